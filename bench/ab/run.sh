#!/bin/bash
# run.sh BIN LABEL WF REPS: a fresh standalone runs workflow WF (sqlfan, shellfan, chain)
# 1 + REPS times; for each run after the first, one line "LABEL wall state pgCPUms saCPUms"
# (the instance's wall from its row; Postgres's and the standalone's CPU over the whole
# `run --wait`), then "TOTAL LABEL wall W pg P sa S" over all of it and 2.5 s after.
BIN=$1; LABEL=$2; WF=$3; REPS=$4
source "$(dirname "$0")/common.sh"
p00=$("$D/pgcpu.sh"); s00=$("$D/sacpu.sh" $SA); w00=$(date +%s.%N)
for r in $(seq 0 "$REPS"); do
  p0=$("$D/pgcpu.sh"); s0=$("$D/sacpu.sh" $SA)
  run_once "$WF"
  p1=$("$D/pgcpu.sh"); s1=$("$D/sacpu.sh" $SA)
  line=$(psql -qAt -h 127.0.0.1 -U postgres -F' ' abdb -c "select round(extract(epoch from ended_at - started_at)::numeric, 3), state from pgdag.workflow_instance order by id desc limit 1")
  [ "$r" -gt 0 ] && echo "$LABEL $line $(( (p1 - p0) / 1000000 )) $(( (s1 - s0) / 1000000 ))"
done
sleep 2.5
p=$("$D/pgcpu.sh"); s=$("$D/sacpu.sh" $SA); w=$(date +%s.%N)
echo "TOTAL $LABEL wall $(awk "BEGIN { printf \"%.3f\", $w - $w00 }") pg $(( (p - p00) / 1000000 )) sa $(( (s - s00) / 1000000 ))"
kill $SA; wait $SA 2> /dev/null
