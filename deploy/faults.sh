#!/usr/bin/env bash
# The fault suite: runs the built binaries on private Postgres and RabbitMQ instances (under
# target/faults, on free ports; the machine's own services are not touched), injects each fault
# while jobs are in flight, and prints a table of what became of the jobs. It fails when a job
# is lost, written twice or failed. Extra arguments go to procmap-faults, e.g. `--only kill-worker`.
set -euo pipefail
cd "$(dirname "$0")/.."

# The private instances come from the same packages as the machine's services.
bash deploy/services.sh
cargo build --quiet --bin procmap-api --bin procmap-worker --bin procmap-faults
exec target/debug/procmap-faults --bin-dir target/debug --work-dir target/faults "$@"
