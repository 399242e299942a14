#!/usr/bin/env bash
# Checks every .bpmn file in a folder against the OMG BPMN 2.0 XSD (xmllint, with the XSD files
# shipped in SpiffWorkflow on PyPI), bpmnlint's `recommended` rules (npm), and bpmn-js's own
# import (bpmn-moddle plus its tree walker, as Camunda Modeler opens a file; npm). Installs them
# under target/conformance-tools. Exits non-zero unless every file passes all three.
#
#   bash deploy/check_bpmn.sh DIR
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:?usage: deploy/check_bpmn.sh DIR}
tools=target/conformance-tools
mkdir -p "$tools"

if ! command -v xmllint >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libxml2-utils >/dev/null
fi
xsd="$tools/schema/BPMN20.xsd"
if [ ! -f "$xsd" ]; then
    pip download --quiet --no-deps --disable-pip-version-check -d "$tools/wheel" 'SpiffWorkflow==3.*'
    python3 - "$tools" <<'PY'
import glob, os, sys, zipfile
tools = sys.argv[1]
wheel = glob.glob(os.path.join(tools, "wheel", "*.whl"))[0]
os.makedirs(os.path.join(tools, "schema"), exist_ok=True)
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith("SpiffWorkflow/bpmn/parser/schema/") and name.endswith(".xsd"):
            with open(os.path.join(tools, "schema", os.path.basename(name)), "wb") as f:
                f.write(z.read(name))
PY
fi
if [ ! -x "$tools/node_modules/.bin/bpmnlint" ] || [ ! -d "$tools/node_modules/bpmn-js" ]; then
    (cd "$tools" && [ -f package.json ] || echo '{"private": true}' > package.json)
    npm install --silent --no-audit --no-fund --prefix "$tools" 'bpmnlint@11' 'bpmn-js@17' >/dev/null 2>&1
fi

shopt -s nullglob
files=("$out"/*.bpmn)
if [ ${#files[@]} -eq 0 ]; then
    echo "check_bpmn: no .bpmn files in $out" >&2
    exit 1
fi
total=0
xsd_pass=0
for file in "${files[@]}"; do
    total=$((total + 1))
    if xmllint --noout --schema "$xsd" "$file" 2>"$out/xmllint.err" >/dev/null; then
        xsd_pass=$((xsd_pass + 1))
    else
        echo "XSD: $(head -n 3 "$out/xmllint.err")"
    fi
done

echo '{"extends": "bpmnlint:recommended"}' > "$out/.bpmnlintrc"
bpmnlint="$(cd "$tools" && pwd)/node_modules/.bin/bpmnlint"
# bpmnlint exits 0 when no file has an error and 1 when some do, listing each such file on a
# line of its own; anything else means the linter itself failed, which must not pass as clean.
lint_status=0
(cd "$out" && "$bpmnlint" ./*.bpmn > lint.txt 2>&1) || lint_status=$?
case $lint_status in
    0) lint_failed=0 ;;
    1)
        # Files are listed with their errors and warnings; only errors fail a file.
        lint_failed=$(awk '/\.bpmn$/ { file = $0 } / error / && file != "" { failed[file] = 1 } END { print length(failed) }' "$out/lint.txt")
        grep -E ' error ' "$out/lint.txt" | head -n 20 || true
        ;;
    *)
        cat "$out/lint.txt" >&2
        echo "conformance: bpmnlint itself failed (exit $lint_status)" >&2
        exit 1
        ;;
esac
lint_pass=$((total - lint_failed))

# Lists each file bpmn-js warns about; its last line counts the clean ones.
bpmnjs_status=0
node deploy/bpmnjs_check.mjs "$tools" "${files[@]}" > "$out/bpmnjs.txt" 2>&1 || bpmnjs_status=$?
head -n 20 "$out/bpmnjs.txt"
if [ "$bpmnjs_status" -gt 1 ] || ! tail -n 1 "$out/bpmnjs.txt" | grep -q '^bpmn-js: '; then
    echo "conformance: the bpmn-js check itself failed (exit $bpmnjs_status)" >&2
    exit 1
fi
bpmnjs_pass=$(tail -n 1 "$out/bpmnjs.txt" | sed -E 's/^bpmn-js: ([0-9]+) of.*/\1/')

echo "conformance: $total diagrams; $xsd_pass pass the BPMN 2.0 XSD; $lint_pass pass bpmnlint recommended; $bpmnjs_pass open in bpmn-js without warnings"
[ "$xsd_pass" -eq "$total" ] && [ "$lint_pass" -eq "$total" ] && [ "$bpmnjs_pass" -eq "$total" ]
