# Sourced by a peer's install.sh: the npm packages of its package-lock.json, installed once into a
# cache folder OUTSIDE the repo keyed on that lockfile,
#   ${XDG_CACHE_HOME:-$HOME/.cache}/slogan-scheduler/<name>-<sha256(package-lock.json)[:16]>
# built in a scratch folder beside it under a lock (concurrent runs wait, then find it done) and
# renamed into place whole, so a half-finished install is never used. Safe for CI (root, CI=true,
# no stdin). The install.sh sets `here` (its folder) before sourcing this.

# npm_cache_paths NAME [CACHE_ROOT]: sets lock, hash, cache_root and dest.
npm_cache_paths() {
  lock="$here/package-lock.json"
  [ -f "$lock" ] || { echo "install.sh: missing $lock" >&2; exit 1; }
  hash="$(sha256sum "$lock" | cut -c1-16)"
  cache_root="${2:-${XDG_CACHE_HOME:-$HOME/.cache}/slogan-scheduler}"
  dest="$cache_root/$1-$hash"
}

# npm_cache_lock NAME: waits for any other install of NAME to finish (the caller then looks again).
npm_cache_lock() {
  mkdir -p "$cache_root"
  exec 9>"$cache_root/.$1-install.lock"
  flock 9
}

# npm_cache_work NAME: a scratch folder holding package.json and the lockfile (removed on exit unless
# published), made the current folder, with npm non-interactive and quiet (its cache ~/.npm is reused).
npm_cache_work() {
  command -v npm >/dev/null || { echo "install.sh: npm is not on PATH" >&2; exit 1; }
  work="$(mktemp -d "$cache_root/.$1-$hash.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  cp "$here/package.json" "$lock" "$work/"
  cd "$work"
  export CI=true npm_config_yes=true npm_config_fund=false npm_config_audit=false \
    npm_config_update_notifier=false npm_config_progress=false npm_config_loglevel=warn
}

# npm_ci_logged LINES: npm ci exactly as locked, no install scripts; on failure the last LINES of its log.
npm_ci_logged() {
  if ! npm ci --ignore-scripts --no-audit --no-fund >"$work/.npm-ci.log" 2>&1; then
    tail -n "$1" "$work/.npm-ci.log" >&2
    echo "install.sh: npm ci failed" >&2
    exit 1
  fi
  rm -f "$work/.npm-ci.log"
}

# npm_cache_publish: marks the scratch folder complete and renames it into place (replacing a leftover).
npm_cache_publish() {
  touch "$work/.complete"
  chmod 755 "$work"
  rm -rf "$dest"
  mv "$work" "$dest"
  trap - EXIT
}
