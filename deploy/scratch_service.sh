# Sourced by scripts that need a running procmap of their own (fuzz.sh, console_test.sh): the
# debug binaries (build them first) on a scratch database and queue prefix, removed on exit.
#
#   source deploy/scratch_service.sh NAME PORT SCOPES
#
# Set any further PROCMAP_* variables before sourcing. Afterwards `$key` holds a test key with
# SCOPES and `$PROCMAP_PUBLIC_BASE_URL` answers /readyz.

scratch_name=${1:?usage: source deploy/scratch_service.sh NAME PORT SCOPES}
scratch_tag="${scratch_name}_$(date +%s)_$$"
export PROCMAP_DATABASE_URL="postgres://postgres@127.0.0.1:5432/procmap_$scratch_tag"
export PROCMAP_QUEUE_PREFIX="procmap_$scratch_tag"
export PROCMAP_BIND="127.0.0.1:${2:?port}"
export PROCMAP_PUBLIC_BASE_URL="http://$PROCMAP_BIND"
export RUST_LOG=${RUST_LOG:-error}
scratch_bin=target/debug

$scratch_bin/procmap-api migrate
key=$($scratch_bin/procmap-api keys create --owner "$scratch_name" --scopes "${3:?scopes}" --test --json | sed -E 's/.*"key":"([^"]+)".*/\1/')
scratch_pids=()
scratch_cleanup() {
    kill "${scratch_pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
    psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS \"procmap_$scratch_tag\" WITH (FORCE)" postgres >/dev/null || true
    for q in jobs jobs.dead; do rabbitmqctl -q delete_queue "procmap_$scratch_tag.$q" >/dev/null 2>&1 || true; done
}
trap scratch_cleanup EXIT
$scratch_bin/procmap-worker & scratch_pids+=($!)
$scratch_bin/procmap-api serve & scratch_pids+=($!)
for _ in $(seq 1 100); do curl -fsS "$PROCMAP_PUBLIC_BASE_URL/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
