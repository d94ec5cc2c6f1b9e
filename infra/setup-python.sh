#!/usr/bin/env bash
# Creates .venv/ in the repository root with the independent Iceberg readers that tests/interop uses
# (PyIceberg, DuckDB + iceberg extension; see infra/python/requirements.txt).
#
# Idempotent and cheap when nothing changed: the sha256 of requirements.txt is kept in
# .venv/.requirements.sha256 after a successful install, and pip runs only when it differs.
# Safe to run from several test workers at once: runs are serialised with flock on requirements.txt.
#
# Environment: PYTHON picks the interpreter (default python3; must be 3.10 or newer).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQ="$ROOT/infra/python/requirements.txt"
VENV="$ROOT/.venv"
STAMP="$VENV/.requirements.sha256"
LOG="$VENV/pip-install.log"
PYTHON="${PYTHON:-python3}"

fail() { echo "setup-python: $*" >&2; exit 1; }

[ -f "$REQ" ] || fail "$REQ is missing; it lists the Python packages the interop tests need."
command -v "$PYTHON" >/dev/null 2>&1 \
  || fail "'$PYTHON' was not found on PATH. Install Python 3.10 or newer (Debian: apt-get install python3 python3-venv) or set PYTHON=/path/to/python3."

# Serialise concurrent runs (vitest workers); the lock is held on the requirements file itself so
# no lock file is left in the tree.
if command -v flock >/dev/null 2>&1; then
  exec 9<"$REQ"
  flock 9
fi

python_ok() { # $1 = interpreter; true when it runs and is >= 3.10
  "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' >/dev/null 2>&1
}

python_ok "$PYTHON" || fail "$("$PYTHON" --version 2>&1 || true) at $(command -v "$PYTHON") is too old or broken; the interop readers need Python 3.10 or newer (set PYTHON=/path/to/python3.10+)."

want="$(sha256sum "$REQ" | cut -d' ' -f1)"

# A venv whose interpreter no longer runs (moved repo, removed Python) is rebuilt from scratch.
if [ -d "$VENV" ] && ! python_ok "$VENV/bin/python"; then
  rm -rf "$VENV"
fi

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV" >/dev/null 2>&1 \
    || fail "'$PYTHON -m venv $VENV' failed; on Debian/Ubuntu install the venv module (apt-get install python3-venv) and retry."
fi

have="$(cat "$STAMP" 2>/dev/null || true)"
if [ "$have" = "$want" ]; then
  echo "setup-python: $VENV is up to date ($("$VENV/bin/python" --version 2>&1))"
  exit 0
fi

rm -f "$STAMP"
if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$REQ" >"$LOG" 2>&1; then
  tail -n 20 "$LOG" >&2
  fail "pip could not install $REQ into $VENV (full log: $LOG). Check that PyPI is reachable or that a pip index is configured."
fi
echo "$want" >"$STAMP"
echo "setup-python: installed $REQ into $VENV ($("$VENV/bin/python" --version 2>&1))"
