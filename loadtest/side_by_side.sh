#!/usr/bin/env bash
# One run on one machine: the limits procmap's throughput is held against, and procmap's own
# figures as ratios to them. Prints a table and writes it to target/loadtest/side-by-side/.
#   - Postgres: pgbench, one single-row INSERT per transaction, CLIENTS connections;
#   - RabbitMQ: persistent messages to a quorum queue, each confirmed, a window of 256;
#   - procmap accept (wait=false), one key and KEYS keys: the highest rate sustained with p99
#     under 50 ms (the open-loop harness's --find-max), no worker running;
#   - procmap drain: one worker on the backlog the accept runs left, generations/s;
#   - procmap e2e: wait=true at a low rate, p50, once the drain's dead rows are vacuumed;
#   - peak RSS (VmHWM) of the API and the worker.
# Release binaries, builtin modeler, a scratch database and queue prefix, removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/services.sh
cargo build --release --quiet --bin procmap-api --bin procmap-worker --bin procmap-loadtest --bin procmap-publish-limit

bin=target/release
seconds=${SECONDS_PER_RUN:-10}
clients=${CLIENTS:-32}
keys_wanted=${KEYS:-32}
tag="sidebyside_$(date +%s)_$$"
out=target/loadtest/side-by-side
mkdir -p "$out"
export PROCMAP_DATABASE_URL="postgres://postgres@127.0.0.1:5432/procmap_$tag"
export PROCMAP_QUEUE_PREFIX="procmap_$tag"
export PROCMAP_BIND="127.0.0.1:${SIDE_BY_SIDE_PORT:-18181}"
export PROCMAP_PUBLIC_BASE_URL="http://$PROCMAP_BIND"
export PROCMAP_WORKER_HTTP_BIND=off
export RUST_LOG=warn
# Throughput, not the per-key limits, is measured.
export PROCMAP_RATE_LIMIT=1000000
export PROCMAP_GENERATION_QUOTA=1000000
psql_q() { psql -q -h 127.0.0.1 -U postgres "$@"; }

api_pid=""
worker_pid=""
cleanup() {
    kill $api_pid $worker_pid 2>/dev/null || true
    wait 2>/dev/null || true
    for db in "procmap_$tag" "pgbench_$tag"; do
        psql_q -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" postgres >/dev/null || true
    done
    for q in jobs jobs.dead; do rabbitmqctl -q delete_queue "procmap_$tag.$q" >/dev/null 2>&1 || true; done
    for x in events jobs.dlx; do rabbitmqctl -q eval "rabbit_exchange:delete(rabbit_misc:r(<<\"/\">>, exchange, <<\"procmap_$tag.$x\">>), false, <<\"side_by_side\">>)." >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

echo "== Postgres: pgbench, one-row INSERT per transaction, $clients clients, ${seconds} s"
psql_q -c "CREATE DATABASE \"pgbench_$tag\"" postgres
psql_q -d "pgbench_$tag" -c "CREATE TABLE one_row (id bigserial PRIMARY KEY, owner text NOT NULL, request jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
echo "INSERT INTO one_row (owner, request) VALUES ('owner-a', '{\"prompt\": \"Map the customer support ticket triage process.\"}');" > "$out/one_row.sql"
pgbench -h 127.0.0.1 -U postgres -n -c "$clients" -j 2 -T "$seconds" -f "$out/one_row.sql" "pgbench_$tag" > "$out/pgbench.txt" 2>&1
pg_tps=$(sed -nE 's/^tps = ([0-9]+).*/\1/p' "$out/pgbench.txt" | head -n 1)
echo "pgbench: $pg_tps transactions/s"

echo "== RabbitMQ: confirmed persistent publishes to a quorum queue, ${seconds} s"
$bin/procmap-publish-limit --seconds "$seconds" | tee "$out/broker.txt"
broker_rate=$(sed -nE 's/^confirmed publishes\/s: ([0-9.]+).*/\1/p' "$out/broker.txt")

echo "== procmap: accept, no worker running"
$bin/procmap-api migrate >/dev/null
: > "$out/keys.txt"
for n in $(seq 1 "$keys_wanted"); do
    $bin/procmap-api keys create --owner "bench-$n" --scopes generate --test --json \
        | sed -E 's/.*"key":"([^"]+)".*/\1/' >> "$out/keys.txt"
done
head -n 1 "$out/keys.txt" > "$out/one_key.txt"
$bin/procmap-api serve & api_pid=$!
for _ in $(seq 1 100); do curl -fsS "$PROCMAP_PUBLIC_BASE_URL/readyz" >/dev/null 2>&1 && break; sleep 0.2; done

find_max() {
    local keys=$1 name=$2
    $bin/procmap-loadtest --base-url "$PROCMAP_PUBLIC_BASE_URL" --keys-file "$keys" --mode accept \
        --find-max --p99-bound-ms 50 --rate 100 --step 1.25 --duration-secs 5 --max-rate 40000 \
        --report "$out/$name.json" --plot "$out/$name.svg" | tee "$out/$name.txt" >&2
    sed -nE 's/^highest sustained rate: ([0-9.]+)\/s.*/\1/p' "$out/$name.txt"
}
accept_one=$(find_max "$out/one_key.txt" accept-one-key)
# The last step of a search overloads the API on purpose; let it finish that work first.
sleep 5
accept_many=$(find_max "$out/keys.txt" "accept-$keys_wanted-keys")

echo "== procmap: one worker drains the backlog"
backlog=$(psql_q -At -c "SELECT count(*) FROM generations WHERE status = 'queued'" "procmap_$tag")
drain_started=$(date +%s.%N)
$bin/procmap-worker & worker_pid=$!
# Watched from one session: a psql started every 0.2 s cost the machine about 6% of its CPU,
# taken from the worker being measured.
psql_q -d "procmap_$tag" -c "DO \$\$ BEGIN
    WHILE EXISTS (SELECT 1 FROM generations WHERE status IN ('queued', 'running')) LOOP
        PERFORM pg_sleep(0.05);
    END LOOP;
END \$\$"
drain_seconds=$(awk -v a="$drain_started" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
drain_rate=$(awk -v n="$backlog" -v s="$drain_seconds" 'BEGIN { print n / s }')
printf 'drained %d generations in %.1f s\n' "$backlog" "$drain_seconds"

# The drain leaves tens of thousands of dead row versions; vacuum them now rather than let
# autovacuum do it during the e2e run, which measures a service at rest.
psql_q -d "procmap_$tag" -c "VACUUM (ANALYZE) generations, generation_versions"
echo "== procmap: e2e, wait=true, 20 requests/s"
$bin/procmap-loadtest --base-url "$PROCMAP_PUBLIC_BASE_URL" --keys-file "$out/one_key.txt" --mode e2e \
    --rate 20 --duration-secs "$seconds" --report "$out/e2e.json" --plot "$out/e2e.svg" | tee "$out/e2e.txt"
e2e_p50=$(sed -nE 's/.*ms p50 ([0-9.]+) .*/\1/p' "$out/e2e.txt" | head -n 1)
e2e_lag=$(sed -nE 's/.*harness lag p50 ([0-9.]+) .*/\1/p' "$out/e2e.txt" | head -n 1)

peak() { sed -nE 's/^VmHWM:\s+([0-9]+) kB/\1/p' "/proc/$1/status" | awk '{printf "%.0f", $1 / 1024}'; }
api_rss=$(peak "$api_pid")
worker_rss=$(peak "$worker_pid")

ratio() { echo "$1 $2" | awk '{ if ($2 > 0) printf "%.2f", $1 / $2; else print "-" }'; }
{
    echo "| figure | procmap | same-run limit | ratio |"
    echo "| --- | ---: | ---: | ---: |"
    echo "| accept, 1 key, p99 ≤ 50 ms | ${accept_one:-none} req/s | pgbench $pg_tps TPS | $(ratio "${accept_one:-0}" "$pg_tps") |"
    echo "| accept, $keys_wanted keys, p99 ≤ 50 ms | ${accept_many:-none} req/s | pgbench $pg_tps TPS | $(ratio "${accept_many:-0}" "$pg_tps") |"
    echo "| accept, 1 key, vs the broker | ${accept_one:-none} req/s | RabbitMQ $broker_rate confirmed/s | $(ratio "${accept_one:-0}" "$broker_rate") |"
    printf '| drain, one worker, builtin | %.0f generations/s | | |\n' "$drain_rate"
    echo "| e2e wait=true at 20/s, p50 (of which the harness's own lag) | $e2e_p50 ms ($e2e_lag ms) | | |"
    echo "| peak RSS | API $api_rss MB, worker $worker_rss MB | | |"
} | tee "$out/table.md"
echo "reports and pictures: $out/"
