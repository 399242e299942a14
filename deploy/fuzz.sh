#!/usr/bin/env bash
# Fuzzes a running API from its own OpenAPI document with schemathesis: no 5xx, and no answer
# that breaks the document. Starts the debug binaries (build them first) on a scratch database
# and queue prefix, with rate limit and quota raised so the fuzzer is not throttled.
# Extra arguments go to `schemathesis run`.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${PROCMAP_FUZZ_VENV:-target/fuzz-venv}
if [ ! -x "$venv/bin/schemathesis" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'schemathesis>=4,<5'
fi

tag="fuzz_$(date +%s)_$$"
export PROCMAP_DATABASE_URL="postgres://postgres@127.0.0.1:5432/procmap_$tag"
export PROCMAP_QUEUE_PREFIX="procmap_$tag"
export PROCMAP_BIND="127.0.0.1:${FUZZ_PORT:-18090}"
export PROCMAP_PUBLIC_BASE_URL="http://$PROCMAP_BIND"
export PROCMAP_RATE_LIMIT=1000000
export PROCMAP_GENERATION_QUOTA=1000000
export PROCMAP_WAIT_TIMEOUT_MS=2000
export RUST_LOG=${RUST_LOG:-error}
bin=target/debug

$bin/procmap-api migrate
key=$($bin/procmap-api keys create --owner fuzz --scopes generate,diagrams:read,diagrams:write,folders:read,folders:write --test --json | sed -E 's/.*"key":"([^"]+)".*/\1/')
pids=()
cleanup() {
    kill "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
    psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS \"procmap_$tag\" WITH (FORCE)" postgres >/dev/null || true
    for q in jobs jobs.dead; do rabbitmqctl -q delete_queue "procmap_$tag.$q" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT
$bin/procmap-worker & pids+=($!)
$bin/procmap-api serve & pids+=($!)
for _ in $(seq 1 100); do curl -fsS "$PROCMAP_PUBLIC_BASE_URL/readyz" >/dev/null 2>&1 && break; sleep 0.2; done

"$venv/bin/schemathesis" run "$PROCMAP_PUBLIC_BASE_URL/api/v1/openapi.json" \
    --header "Authorization: Bearer $key" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --max-examples "${FUZZ_EXAMPLES:-60}" \
    --request-timeout 10 \
    --no-color \
    "$@"
