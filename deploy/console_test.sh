#!/usr/bin/env bash
# Drives the Test Console (/console) in headless Chromium (Debian's `chromium`, playwright-core
# from npm): a test key, an initial request through to three rendered previews, the JSON and
# XML tabs and the download, a refinement by polling, then a copilot turn on option 1 saved as a
# diagram, streamed, and applied; any page error or console error fails it. Starts the debug
# binaries (build them first) on a scratch database and queue prefix.
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

source deploy/scratch_service.sh console "${CONSOLE_PORT:-18091}" generate,diagrams:read,diagrams:write

node deploy/console_test.mjs "$tools" "$PROCMAP_PUBLIC_BASE_URL" "$key"
