#!/bin/bash
# Stop the daemons that tools/slurm/start.sh STATE_DIR started, and only those:
# the PIDs listed in STATE_DIR/pids, newest first, each only while the process
# with that PID still runs the program it was recorded as.
#
#   tools/slurm/stop.sh STATE_DIR
#
# Sends SIGTERM, waits up to 10 s, then sends SIGKILL.  A daemon that exits
# stays a zombie when PID 1 does not reap orphans (as in many containers);
# it counts as stopped.
set -uo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 STATE_DIR" >&2
  exit 2
fi
pids=$1/pids
[ -f "$pids" ] || exit 0

# True while PID runs NAME and has not exited (state Z is an exited process).
running() {
  local pid=$1 name=$2 comm state
  comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
  state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$pid/status" 2>/dev/null)
  [ "$comm" = "$name" ] && [ "$state" != Z ]
}

tac "$pids" | while read -r name pid; do
  [ -n "${pid:-}" ] || continue
  if ! running "$pid" "$name"; then
    echo "stop.sh: $name ($pid) is not running"
    continue
  fi
  kill -TERM "$pid"
  for _ in $(seq 1 100); do
    running "$pid" "$name" || break
    sleep 0.1
  done
  if running "$pid" "$name"; then
    echo "stop.sh: $name ($pid) ignored SIGTERM for 10 s; sending SIGKILL"
    kill -KILL "$pid"
  fi
  echo "stopped $name ($pid)"
done
rm -f "$pids"
