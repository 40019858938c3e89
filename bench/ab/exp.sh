#!/bin/bash
# exp.sh WF REPS ROUNDS "LABEL|BIN|VAR=VALUE ..." ...: run.sh of each build in turn,
# ROUNDS times (alternated, so that the machine's drift falls on all of them alike).
# Summarize the output with summ.py.
WF=$1; REPS=$2; ROUNDS=$3; shift 3
for _ in $(seq "$ROUNDS"); do for spec in "$@"; do
  IFS='|' read -r L B E <<< "$spec"
  env $E bash "$(dirname "$0")/run.sh" "$B" "$L" "$WF" "$REPS"
done; done
