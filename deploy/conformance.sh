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
