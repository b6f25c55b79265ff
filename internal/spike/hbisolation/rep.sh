#!/bin/sh
# usage: ./rep.sh N "label" host-args...   -- runs the heartbeat harness N times (10 s each, bounded by timeout 60)
n=$1; label=$2; shift 2
for i in $(seq 1 $n); do
  timeout 60 ./spike run -dur 10s -label "$label" -- "$@" 2>&1 | grep -E "^RESULT|^HOST t=1[01]s|EXITED|panic" | tail -2
done
