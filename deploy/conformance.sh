#!/usr/bin/env bash
# Conformance: every option and refinement the engine emits for conformance/corpus.txt, and its
# refinements of the other tools' diagrams in conformance/foreign/ and of the executable Camunda 7
# and 8 diagrams in conformance/executable/, must pass
# the OMG BPMN 2.0 XSD and bpmnlint's `recommended` rules with zero errors (deploy/check_bpmn.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

out=target/conformance-out
rm -rf "$out"
# The dev build reuses what the tests compiled; CONFORMANCE_RELEASE=1 gives engine times worth quoting.
profile=()
[ -n "${CONFORMANCE_RELEASE:-}" ] && profile=(--release)
cargo run --quiet "${profile[@]}" -p procmap-engine --example conformance_corpus -- conformance/corpus.txt "$out" conformance/foreign conformance/executable
echo "(engine times above are from a ${profile[*]:-dev} build)"

bash deploy/check_bpmn.sh "$out"

# Refined Camunda diagrams must not gain errors under the rules Camunda Modeler applies for the
# engine version they name (bpmnlint-plugin-camunda-compat, with the engines' moddle extensions).
tools=target/conformance-tools
if [ ! -d "$tools/node_modules/bpmnlint-plugin-camunda-compat" ] || [ ! -d "$tools/node_modules/zeebe-bpmn-moddle" ]; then
    npm install --silent --no-audit --no-fund --prefix "$tools" 'bpmnlint-plugin-camunda-compat@2' \
        'camunda-bpmn-moddle@7' 'zeebe-bpmn-moddle@1' 'modeler-moddle@0' >/dev/null 2>&1
fi
node deploy/camunda_compat.mjs "$tools" conformance/executable "$out"
