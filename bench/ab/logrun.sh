#!/bin/bash
# logrun.sh BIN WF: every statement of one warm instance of WF, from the server's log
# (`log_min_duration_statement = 0` for its duration, by ALTER SYSTEM and reset after: run
# it on a development server only), copied to /tmp/ab_stmt.log; summarize with logagg.py.
BIN=$1; WF=$2
LOG=${PGDAG_AB_SERVER_LOG:-/var/log/postgresql/postgresql-15-main.log}
source "$(dirname "$0")/common.sh"
run_once "$WF"; run_once "$WF"
sleep 1
psql -qAt -h 127.0.0.1 -U postgres -c "alter system set log_min_duration_statement = 0" -c "select pg_reload_conf()" > /dev/null
sleep 0.5
start=$(wc -c < "$LOG")
run_once "$WF"
sleep 2.5
psql -qAt -h 127.0.0.1 -U postgres -c "alter system reset log_min_duration_statement" -c "select pg_reload_conf()" > /dev/null
tail -c +$((start + 1)) "$LOG" > /tmp/ab_stmt.log
kill $SA; wait $SA 2> /dev/null
wc -l /tmp/ab_stmt.log
