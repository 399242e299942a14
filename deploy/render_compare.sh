#!/usr/bin/env bash
# Compares procmap's pictures with bpmn-js's: every .bpmn file of the conformance corpus output
# (target/conformance-out, made by deploy/conformance.sh, which this runs first if it is
# missing), conformance/foreign and conformance/executable is drawn by procmap-render and
# opened in bpmn-js's viewer in headless Chromium (Debian's `chromium`, bpmn-js and
# playwright-core from npm). Every shape's and flow's box must match within 3 pixels, and each
# element bpmn-js draws must be drawn. RENDER_COMPARE_SHOTS=DIR also writes screenshots of both.
#
#   bash deploy/render_compare.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
tools=target/conformance-tools
mkdir -p "$tools"
if [ ! -d "$tools/node_modules/bpmn-js" ] || [ ! -d "$tools/node_modules/playwright-core" ]; then
    (cd "$tools" && [ -f package.json ] || echo '{"private": true}' > package.json)
    npm install --silent --no-audit --no-fund --prefix "$tools" 'bpmn-js@17' 'playwright-core@1' >/dev/null 2>&1
fi
if ! ls target/conformance-out/*.bpmn >/dev/null 2>&1; then
    cargo run --quiet -p procmap-engine --example conformance_corpus -- conformance/corpus.txt \
        target/conformance-out conformance/foreign conformance/executable >/dev/null
fi

out=target/render-compare
rm -rf "$out"
mkdir -p "$out"
files=(target/conformance-out/*.bpmn conformance/foreign/*.bpmn conformance/executable/*.bpmn)
# One folder per source folder, as file names repeat between them.
for dir in target/conformance-out conformance/foreign conformance/executable; do
    cargo run --quiet -p procmap-render --example render -- svg light "$out/$(basename "$dir")" "$dir"/*.bpmn
done
node deploy/render_compare.mjs "$tools" "$out" "${files[@]}"
