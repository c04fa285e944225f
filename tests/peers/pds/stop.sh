#!/usr/bin/env bash
# Stops the PDS started by run.sh: tests/peers/pds/stop.sh PIDFILE
# Sends SIGTERM, waits up to 15 s, then SIGKILL. Removes PIDFILE. Exit 0 if nothing was running.
set -euo pipefail
pidfile="${1:?usage: stop.sh PIDFILE}"
[ -f "$pidfile" ] || exit 0
pid="$(cat "$pidfile")"
if [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; then
  for _ in $(seq 1 75); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "stop.sh: pid $pid ignored SIGTERM; killing" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
fi
rm -f "$pidfile"
