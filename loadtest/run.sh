#!/usr/bin/env bash
# Runs the open-loop harness against the release binaries: brings up the services, starts one
# API and one worker on a scratch database and queue prefix, makes LOADTEST_KEYS test keys
# (default 1), runs the harness, and cleans up. Extra arguments go to the harness, e.g.
# `loadtest/run.sh --mode e2e --rate 50 --duration-secs 10`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/services.sh
cargo build --release --quiet --bin procmap-api --bin procmap-worker --bin procmap-loadtest

tag="loadtest_$(date +%s)_$$"
export PROCMAP_DATABASE_URL="postgres://postgres@127.0.0.1:5432/procmap_$tag"
export PROCMAP_QUEUE_PREFIX="procmap_$tag"
export PROCMAP_BIND="127.0.0.1:${LOADTEST_PORT:-18080}"
export PROCMAP_PUBLIC_BASE_URL="http://$PROCMAP_BIND"
export RUST_LOG=warn
# A load run measures latency, not the per-key limits, so lift them for its scratch key.
export PROCMAP_RATE_LIMIT=1000000
export PROCMAP_GENERATION_QUOTA=1000000
bin=target/release

$bin/procmap-api migrate
mkdir -p target/loadtest
keys=target/loadtest/keys.txt
: > "$keys"
for n in $(seq 1 "${LOADTEST_KEYS:-1}"); do
    $bin/procmap-api keys create --owner "loadtest-$n" --scopes generate,diagrams:read --test --json \
        | sed -E 's/.*"key":"([^"]+)".*/\1/' >> "$keys"
done
pids=()
cleanup() {
    kill "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
    psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS \"procmap_$tag\" WITH (FORCE)" postgres >/dev/null || true
    for q in jobs jobs.dead; do rabbitmqctl -q delete_queue "procmap_$tag.$q" >/dev/null 2>&1 || true; done
    for x in events jobs.dlx; do rabbitmqctl -q eval "rabbit_exchange:delete(rabbit_misc:r(<<\"/\">>, exchange, <<\"procmap_$tag.$x\">>), false, <<\"loadtest\">>)." >/dev/null 2>&1 || true; done
}
trap cleanup EXIT
$bin/procmap-worker & pids+=($!)
$bin/procmap-api serve & pids+=($!)
for _ in $(seq 1 100); do curl -fsS "$PROCMAP_PUBLIC_BASE_URL/readyz" >/dev/null 2>&1 && break; sleep 0.2; done

$bin/procmap-loadtest --base-url "$PROCMAP_PUBLIC_BASE_URL" --keys-file "$keys" "$@"
