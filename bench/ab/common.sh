# Sourced by the A/B scripts: a fresh database abdb, a standalone of binary $BIN on it
# (four process slots, API on 127.0.0.1:18092), the workflows of gen_wf.py applied.
# Sets SA (the standalone's pid).
D=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PGDAG_DATABASE_URL=postgres://postgres@127.0.0.1:5432/abdb
psql -qAt -h 127.0.0.1 -U postgres -c "drop database if exists abdb with (force)" -c "create database abdb" > /dev/null 2>&1
[ -f /tmp/ab_wf.yaml ] || python3 "$D/gen_wf.py" > /tmp/ab_wf.yaml
PGDAG_HTTP_ADDR=127.0.0.1:18092 PGDAG_METRICS_ADDR=127.0.0.1:0 PGDAG_MAX_TASKS=4 \
  PGDAG_ADMIN_PASSWORD=ab PGDAG_LOG=warn "$BIN" standalone > /tmp/ab_sa.out 2> /tmp/ab_sa.err &
SA=$!
for _ in $(seq 100); do grep -q http:// /tmp/ab_sa.out 2> /dev/null && break; sleep 0.1; done
"$BIN" apply -f /tmp/ab_wf.yaml > /dev/null || { echo "apply failed" >&2; kill $SA; exit 1; }
# One instance of workflow $1, waited for.
run_once() { "$BIN" run "ab/$1" --wait > /dev/null 2>&1; }
