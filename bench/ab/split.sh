#!/bin/bash
# split.sh BIN WF: the CPU each Postgres backend spent over one warm instance of WF, with
# its application_name (the store's connections, the datasource pool's) and last query.
BIN=$1; WF=$2
source "$(dirname "$0")/common.sh"
run_once "$WF"; run_once "$WF"
snap() { for p in $(pgrep -x postgres); do { read -r a _ < /proc/$p/schedstat; } 2> /dev/null && echo "$p $a"; done; }
snap > /tmp/ab_s0
run_once "$WF"
snap > /tmp/ab_s1
psql -qAt -h 127.0.0.1 -U postgres -F' ' -c "select pid, coalesce(nullif(application_name, ''), backend_type), left(regexp_replace(query, '\s+', ' ', 'g'), 40) from pg_stat_activity" > /tmp/ab_act
kill $SA; wait $SA 2> /dev/null
python3 - << 'PY'
s0 = dict(l.split() for l in open('/tmp/ab_s0'))
s1 = dict(l.split() for l in open('/tmp/ab_s1'))
act = {}
for l in open('/tmp/ab_act'):
    f = l.rstrip('\n').split(' ', 2)
    if len(f) >= 2:
        act[f[0]] = ' | '.join(f[1:])
total = 0
for pid, v in s1.items():
    ms = (int(v) - int(s0.get(pid, 0))) / 1e6
    if ms >= 0.5:
        total += ms
        print(f"{ms:8.1f} ms  {pid}  {act.get(pid, '?')}")
print(f"total {total:.1f} ms")
PY
