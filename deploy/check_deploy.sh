#!/usr/bin/env bash
# Validates the deployment files offline, with tools from the package registries installed
# under target/deploy-tools:
# - deploy/k8s/*.yaml against Kubernetes' schemas, strictly (kubernetes-validate, PyPI);
# - KEDA's ScaledObject and TriggerAuthentication against KEDA's CRD schemas
#   (@kubernetes-models/keda, npm);
# - the kustomization lists every manifest, and nothing else;
# - deploy/compose.yaml against the Compose Specification's JSON Schema (check-jsonschema, PyPI).
# Building the image needs a Docker engine, which this machine does not run (see the README).
#
#   bash deploy/check_deploy.sh
set -euo pipefail
cd "$(dirname "$0")/.."

tools=target/deploy-tools
mkdir -p "$tools"
if [ ! -x "$tools/venv/bin/kubernetes-validate" ] || [ ! -x "$tools/venv/bin/check-jsonschema" ]; then
    python3 -m venv "$tools/venv"
    "$tools/venv/bin/pip" install --quiet --disable-pip-version-check 'kubernetes-validate==1.37.*' 'check-jsonschema==0.*'
fi
if [ ! -d "$tools/node_modules/@kubernetes-models/keda" ]; then
    (cd "$tools" && [ -f package.json ] || echo '{"private": true}' > package.json)
    npm install --silent --no-audit --no-fund --prefix "$tools" '@kubernetes-models/keda@0.4' 'js-yaml@4' >/dev/null 2>&1
fi

core=()
keda=()
for file in deploy/k8s/*.yaml; do
    case "$(basename "$file")" in
        kustomization.yaml) ;;
        worker-scaledobject.yaml | worker-triggerauthentication.yaml) keda+=("$file") ;;
        *) core+=("$file") ;;
    esac
done
"$tools/venv/bin/kubernetes-validate" --strict --quiet "${core[@]}"
node deploy/keda_check.mjs "$tools" "${keda[@]}"
python3 - <<'PY'
import pathlib, re, sys
k8s = pathlib.Path("deploy/k8s")
listed = set(re.findall(r"^  - (\S+\.yaml)$", (k8s / "kustomization.yaml").read_text(), re.M))
present = {p.name for p in k8s.glob("*.yaml")} - {"kustomization.yaml"}
if listed != present:
    sys.exit(f"kustomization.yaml lists {sorted(listed - present)} that do not exist and misses {sorted(present - listed)}")
print(f"kustomization.yaml lists all {len(present)} manifests")
PY
"$tools/venv/bin/check-jsonschema" --builtin-schema vendor.compose-spec deploy/compose.yaml
echo "deploy: Kubernetes manifests, KEDA resources, kustomization and compose file are valid"
