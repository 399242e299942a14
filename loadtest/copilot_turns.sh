#!/usr/bin/env bash
# Times builtin copilot turns end to end against the release binaries: one API and one worker on
# a scratch database and queue prefix, loopback. Each turn is on a freshly imported diagram (the
# Camunda tickets example) with a session of its own, and is timed from the POST to the end of
# its event stream, which must end with `complete`. For scale, the same refinement is then timed
# as a generation with `wait=true`. Prints medians and p90 after COPILOT_WARMUP turns.
#
#   bash loadtest/copilot_turns.sh [TURNS]      (default 40; warm-up 5)
set -euo pipefail
cd "$(dirname "$0")/.."
turns=${1:-40}
warmup=${COPILOT_WARMUP:-5}
bash deploy/services.sh
cargo build --release --quiet --bin procmap-api --bin procmap-worker

tag="copilot_$(date +%s)_$$"
export PROCMAP_DATABASE_URL="postgres://postgres@127.0.0.1:5432/procmap_$tag"
export PROCMAP_QUEUE_PREFIX="procmap_$tag"
export PROCMAP_BIND="127.0.0.1:${COPILOT_PORT:-18121}"
export PROCMAP_PUBLIC_BASE_URL="http://$PROCMAP_BIND"
export RUST_LOG=error
# The run measures latency, not the per-key limits.
export PROCMAP_RATE_LIMIT=1000000
export PROCMAP_GENERATION_QUOTA=1000000
bin=target/release
out=$(mktemp -d)

$bin/procmap-api migrate
key=$($bin/procmap-api keys create --owner copilot-timing --scopes generate,diagrams:read,diagrams:write --test --json \
    | sed -E 's/.*"key":"([^"]+)".*/\1/')
pids=()
cleanup() {
    kill "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
    psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS \"procmap_$tag\" WITH (FORCE)" postgres >/dev/null || true
    for q in jobs jobs.dead; do rabbitmqctl -q delete_queue "procmap_$tag.$q" >/dev/null 2>&1 || true; done
    rm -rf "$out"
}
trap cleanup EXIT
$bin/procmap-worker & pids+=($!)
$bin/procmap-api serve & pids+=($!)
for _ in $(seq 1 100); do curl -fsS "$PROCMAP_PUBLIC_BASE_URL/readyz" >/dev/null 2>&1 && break; sleep 0.2; done

base=$PROCMAP_PUBLIC_BASE_URL
auth="Authorization: Bearer $key"
json='Content-Type: application/json'
message='Add a step to notify the customer after Resolve ticket'
diagram=$(jq -n --rawfile x conformance/foreign/camunda_tickets.bpmn '{name: "Tickets", bpmn_xml: $x}')
generation=$(jq -n --rawfile x conformance/foreign/camunda_tickets.bpmn --arg p "$message" \
    '{mode: "refinement", prompt: $p, source: {bpmn_xml: $x}}')

for _ in $(seq 1 "$turns"); do
    d=$(curl -fsS -X POST "$base/api/v1/diagrams" -H "$auth" -H "$json" -d "$diagram" | jq -r .id)
    s=$(curl -fsS -X POST "$base/api/v1/copilot/sessions" -H "$auth" -H "$json" -d "{\"diagram_id\":\"$d\"}" | jq -r .id)
    curl -fsS -N -o "$out/stream" -w '%{time_total}\n' -X POST "$base/api/v1/copilot/sessions/$s/chat" \
        -H "$auth" -H "$json" -d "{\"message\":\"$message\"}" >> "$out/turns"
    grep -q '^event: complete' "$out/stream" || { echo "a turn did not complete:" >&2; cat "$out/stream" >&2; exit 1; }
done
for _ in $(seq 1 "$turns"); do
    curl -fsS -o "$out/generation" -w '%{time_total}\n' -X POST "$base/api/v1/process-maps/generations?wait=true" \
        -H "$auth" -H "$json" -d "$generation" >> "$out/generations"
    [ "$(jq -r .status "$out/generation")" = succeeded ] || { cat "$out/generation" >&2; exit 1; }
done

python3 - "$out" "$warmup" <<'PY'
import statistics, sys
out, warmup = sys.argv[1], int(sys.argv[2])
def times(name):
    return [float(line) * 1000 for line in open(f"{out}/{name}")][warmup:]
def p90(xs):
    return sorted(xs)[int(0.9 * (len(xs) - 1))]
turns, generations = times("turns"), times("generations")
print(f"copilot turn to `complete`: {len(turns)} turns, median {statistics.median(turns):.1f} ms, p90 {p90(turns):.1f} ms, max {max(turns):.1f} ms")
print(f"the same refinement as a generation with wait=true: median {statistics.median(generations):.1f} ms, p90 {p90(generations):.1f} ms")
print(f"turn / generation, medians: {statistics.median(turns) / statistics.median(generations):.2f}")
PY
