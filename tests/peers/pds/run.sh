#!/usr/bin/env bash
# Installs (cached) and starts the local Bluesky PDS + PLC in the background, bound to 127.0.0.1.
#   tests/peers/pds/run.sh [PIDFILE]
# Env: PDS_PORT (2583), PLC_PORT (2582), PDS_ADMIN_PASSWORD (admin), PDS_START_TIMEOUT (60 s),
#      PDS_LOG (default ${TMPDIR:-/tmp}/slogan-pds-$PDS_PORT.log).
# On success prints PDS_URL=..., PDS_PID=..., PDS_LOG=... and writes the pid to PIDFILE if given.
# Stop with: tests/peers/pds/stop.sh PIDFILE   (or: kill -TERM "$(cat PIDFILE)")
# Exits non-zero with the log tail if the PDS does not come up in time.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pidfile="${1:-}"
export PDS_PORT="${PDS_PORT:-2583}" PLC_PORT="${PLC_PORT:-2582}"
timeout_s="${PDS_START_TIMEOUT:-60}"
logfile="${PDS_LOG:-${TMPDIR:-/tmp}/slogan-pds-$PDS_PORT.log}"
url="http://127.0.0.1:$PDS_PORT"

# install.sh prints PDS_NODE=... and PDS_INSTALL_DIR=... on its last two lines.
install_out="$(bash "$here/install.sh" </dev/null)"
PDS_NODE="$(printf '%s\n' "$install_out" | sed -n 's/^PDS_NODE=//p' | tail -n1)"
PDS_INSTALL_DIR="$(printf '%s\n' "$install_out" | sed -n 's/^PDS_INSTALL_DIR=//p' | tail -n1)"
export PDS_NODE PDS_INSTALL_DIR
[ -x "$PDS_NODE" ] || { echo "run.sh: install.sh gave no usable node ($PDS_NODE)" >&2; exit 1; }

health() { # exit 0 if something answers GET /xrpc/_health with 2xx
  "$PDS_NODE" -e '
    fetch(process.argv[1] + "/xrpc/_health", { signal: AbortSignal.timeout(2000) })
      .then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$url"
}

if health; then
  echo "run.sh: something already answers on $url (another PDS?); stop it or set PDS_PORT" >&2
  exit 1
fi

mkdir -p "$(dirname "$logfile")"
: >"$logfile"
nohup "$PDS_NODE" "$here/start.mjs" </dev/null >>"$logfile" 2>&1 &
pid=$!
[ -z "$pidfile" ] || echo "$pid" >"$pidfile"

fail() {
  echo "run.sh: $1; last lines of $logfile:" >&2
  tail -n 40 "$logfile" >&2 || true
  kill -TERM "$pid" 2>/dev/null || true
  [ -z "$pidfile" ] || rm -f "$pidfile"
  exit 1
}

deadline=$((SECONDS + timeout_s))
until grep -q "^READY $url\$" "$logfile" && health; do
  kill -0 "$pid" 2>/dev/null || fail "the PDS exited during startup"
  [ "$SECONDS" -lt "$deadline" ] || fail "the PDS did not answer $url/xrpc/_health within ${timeout_s}s"
  sleep 0.2
done

echo "PDS_URL=$url"
echo "PDS_PID=$pid"
echo "PDS_LOG=$logfile"
