#!/usr/bin/env bash
# The OpenAI-compatible provider end to end against a real model: starts llama.cpp's server
# (xllamacpp, from PyPI) with SmolLM2-135M on a free port, runs the ignored test `real_model`
# through the built binaries against it (every generation must succeed), then checks every
# option it got against the BPMN 2.0 XSD, bpmnlint and bpmn-js (deploy/check_bpmn.sh).
# Expects Postgres and RabbitMQ up and the binaries built, as deploy/test.sh leaves them.
set -euo pipefail
cd "$(dirname "$0")/.."

# Fetch before starting, so the wait below is for loading only.
bash deploy/llm.sh path smollm2 >/dev/null
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=target/llm/server-smollm2.log
bash deploy/llm.sh serve smollm2 "$port" >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT

for _ in $(seq 1 120); do
    curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    kill -0 "$server" 2>/dev/null || { cat "$log" >&2; echo "real_model: the model server exited" >&2; exit 1; }
    sleep 1
done
curl -fsS "http://127.0.0.1:$port/health" >/dev/null || { tail -n 20 "$log" >&2; exit 1; }

out=target/real-model-options
rm -rf "$out" && mkdir -p "$out"
PROCMAP_TEST_LLM_BASE_URL="http://127.0.0.1:$port/v1" PROCMAP_TEST_LLM_OUT="$(pwd)/$out" \
    cargo test -p procmap-api --test api real_model -- --ignored --nocapture
bash deploy/check_bpmn.sh "$out"
