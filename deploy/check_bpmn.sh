#!/usr/bin/env bash
# Checks every .bpmn file in a folder against the OMG BPMN 2.0 XSD (xmllint, with the XSD files
# shipped in SpiffWorkflow on PyPI) and bpmnlint's `recommended` rules (npm). Installs both under
# target/conformance-tools. Exits non-zero unless every file passes both.
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
if [ ! -x "$tools/node_modules/.bin/bpmnlint" ]; then
    (cd "$tools" && [ -f package.json ] || echo '{"private": true}' > package.json)
    npm install --silent --no-audit --no-fund --prefix "$tools" 'bpmnlint@11' >/dev/null 2>&1
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
        lint_failed=$(grep -c '\.bpmn$' "$out/lint.txt" || true)
        grep -E 'error|warning' "$out/lint.txt" | head -n 20 || true
        ;;
    *)
        cat "$out/lint.txt" >&2
        echo "conformance: bpmnlint itself failed (exit $lint_status)" >&2
        exit 1
        ;;
esac
lint_pass=$((total - lint_failed))

echo "conformance: $total diagrams; $xsd_pass pass the BPMN 2.0 XSD; $lint_pass pass bpmnlint recommended"
[ "$xsd_pass" -eq "$total" ] && [ "$lint_pass" -eq "$total" ]
