#!/usr/bin/env bash
# Runs the first COUNT descriptions of conformance/corpus.txt through a local language model
# (deploy/llm.sh) with the OpenAI-compatible provider, refines the first option of the first
# REFINEMENTS of them with a follow-up each, then checks every diagram it produced against the
# BPMN 2.0 XSD and bpmnlint. Prints per-description results and a summary.
#
#   bash deploy/model_corpus.sh qwen 12 5
#
# On two CPU cores Qwen2.5-Coder-1.5B takes about a minute per description.
set -euo pipefail
cd "$(dirname "$0")/.."

model=${1:?usage: deploy/model_corpus.sh MODEL [COUNT] [REFINEMENTS]}
count=${2:-12}
refinements=${3:-5}
out=target/model-corpus-$model

bash deploy/llm.sh path "$model" >/dev/null
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
bash deploy/llm.sh serve "$model" "$port" > "target/llm/server-$model.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    sleep 1
done

rm -rf "$out"
cargo run --quiet --release -p procmap-engine --example model_corpus -- \
    conformance/corpus.txt "$out" "http://127.0.0.1:$port/v1" "$model" "$count" "$refinements"
if compgen -G "$out/*.bpmn" >/dev/null; then
    bash deploy/check_bpmn.sh "$out" || true
fi
