#!/usr/bin/env bash
# Runs the whole test suite against real Postgres and RabbitMQ, bringing them up first.
# Each test makes its own database and queue prefix and removes them when it passes.
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/services.sh

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
# The end-to-end test runs the real binaries as separate processes.
cargo build --workspace --bins --quiet
cargo test --workspace
