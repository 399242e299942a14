#!/usr/bin/env bash
# Runs procmap locally: Postgres and RabbitMQ, migrations, the API and one worker with the
# builtin modeler. Prints a test-mode key and a ready-to-paste curl. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/services.sh

export PROCMAP_DATABASE_URL="${PROCMAP_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/procmap}"
export PROCMAP_AMQP_URL="${PROCMAP_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}"
export PROCMAP_BIND="${PROCMAP_BIND:-127.0.0.1:8080}"
export PROCMAP_PUBLIC_BASE_URL="${PROCMAP_PUBLIC_BASE_URL:-http://$PROCMAP_BIND}"
export PROCMAP_LLM_PROVIDER="${PROCMAP_LLM_PROVIDER:-builtin}"

cargo build --release --bin procmap-api --bin procmap-worker
bin=target/release

$bin/procmap-api migrate
key_json=$($bin/procmap-api keys create --owner demo --scopes generate,diagrams:read --test --json)
key=$(printf '%s' "$key_json" | sed -E 's/.*"key":"([^"]+)".*/\1/')

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

$bin/procmap-worker &
pids+=($!)
$bin/procmap-api serve &
pids+=($!)

for _ in $(seq 1 60); do
    curl -fsS "$PROCMAP_PUBLIC_BASE_URL/readyz" >/dev/null 2>&1 && break
    sleep 0.5
done

cat <<MSG

procmap is running at $PROCMAP_PUBLIC_BASE_URL (API and one worker, builtin modeler).
Test-mode API key (shown once): $key

Try the seed's example request:

curl -sS -X POST '$PROCMAP_PUBLIC_BASE_URL/api/v1/process-maps/generations' \\
  -H 'Authorization: Bearer $key' \\
  -H 'Content-Type: application/json' \\
  -d '{"mode": "initial", "prompt": "Map the customer support ticket triage process from intake to resolution.", "language": "english"}'

Press Ctrl-C to stop.
MSG
wait
