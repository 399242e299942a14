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

export PROCMAP_RATE_LIMIT=1000000
export PROCMAP_GENERATION_QUOTA=1000000
export PROCMAP_WAIT_TIMEOUT_MS=2000
source deploy/scratch_service.sh fuzz "${FUZZ_PORT:-18090}" generate,diagrams:read,diagrams:write,folders:read,folders:write

"$venv/bin/schemathesis" run "$PROCMAP_PUBLIC_BASE_URL/api/v1/openapi.json" \
    --header "Authorization: Bearer $key" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --max-examples "${FUZZ_EXAMPLES:-60}" \
    --request-timeout 10 \
    --no-color \
    "$@"
