#!/usr/bin/env bash
# Drives the Test Console (/console) in headless Chromium (Debian's `chromium`, playwright-core
# from npm): a test key, an initial request through to three rendered previews, the JSON and
# XML tabs and the download, then a refinement by polling; any page error or console error
# fails it. Starts the debug binaries (build them first) on a scratch database and queue prefix.
# CONSOLE_SHOTS=DIR also writes screenshots.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
tools=target/conformance-tools
mkdir -p "$tools"
if [ ! -d "$tools/node_modules/playwright-core" ]; then
    (cd "$tools" && [ -f package.json ] || echo '{"private": true}' > package.json)
    npm install --silent --no-audit --no-fund --prefix "$tools" 'playwright-core@1' >/dev/null 2>&1
fi

tag="console_$(date +%s)_$$"
export PROCMAP_DATABASE_URL="postgres://postgres@127.0.0.1:5432/procmap_$tag"
export PROCMAP_QUEUE_PREFIX="procmap_$tag"
export PROCMAP_BIND="127.0.0.1:${CONSOLE_PORT:-18091}"
export PROCMAP_PUBLIC_BASE_URL="http://$PROCMAP_BIND"
export RUST_LOG=${RUST_LOG:-error}
bin=target/debug

$bin/procmap-api migrate
key=$($bin/procmap-api keys create --owner console --scopes generate,diagrams:read --test --json | sed -E 's/.*"key":"([^"]+)".*/\1/')
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

node deploy/console_test.mjs "$tools" "$PROCMAP_PUBLIC_BASE_URL" "$key"
