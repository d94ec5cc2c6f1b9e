#!/usr/bin/env bash
# Installs Apache Superset (infra/superset/requirements.txt) into a venv of its own for
# `lakehouse dashboard` and prints the venv's absolute path on stdout (one line, nothing else there;
# messages go to stderr).
#
# The venv lives in $LAKEHOUSE_CACHE/superset/<sha256 of requirements.txt, 12 chars>-py<X.Y>/venv, like
# the services' installs in infra/services/: ~1 GB that takes about a minute with a cold pip cache is
# paid once per machine, and every clone with the same requirements reuses it. A changed requirements
# file installs next to the old one; an interrupted install is never taken for a finished one (the
# stamp is written last). Runs are serialised with flock, so the test setup and a CLI call can race.
#
# Environment: PYTHON picks the interpreter (default python3; 3.10 to 3.12, which Superset 6.1 supports).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQ="$ROOT/infra/superset/requirements.txt"
LAKEHOUSE_CACHE="${LAKEHOUSE_CACHE:-$HOME/.cache/lakehouse}"
PYTHON="${PYTHON:-python3}"

fail() { echo "setup-superset: $*" >&2; exit 1; }

[ -f "$REQ" ] || fail "$REQ is missing; it pins the packages Superset needs."
command -v "$PYTHON" >/dev/null 2>&1 \
  || fail "'$PYTHON' was not found on PATH; Superset needs Python 3.10 to 3.12 (Debian: apt-get install python3 python3-venv) or set PYTHON=/path/to/python3."
tag="$("$PYTHON" -c 'import sys; v = sys.version_info[:2]; print("py%d.%d" % v if (3, 10) <= v <= (3, 12) else "")' 2>/dev/null || true)"
[ -n "$tag" ] || fail "$(command -v "$PYTHON") is not a Python 3.10 to 3.12, which Superset 6.1 needs; install one (Debian: apt-get install python3) or set PYTHON=/path/to/python3.11."

hash="$(sha256sum "$REQ" | cut -c1-12)"
DIR="$LAKEHOUSE_CACHE/superset/$hash-$tag"
VENV="$DIR/venv"
STAMP="$VENV/.installed"
LOG="$DIR/pip-install.log"

if [ -f "$STAMP" ]; then
  echo "$VENV"
  exit 0
fi

mkdir -p "$DIR"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$DIR/.lock"
  flock -w 1200 9 || fail "another install has held $DIR/.lock for 20 minutes; is one stuck?"
  # Someone else may have finished it while we waited.
  if [ -f "$STAMP" ]; then echo "$VENV"; exit 0; fi
fi

echo "setup-superset: installing Apache Superset into $VENV (about a minute, ~1 GB; once per machine)" >&2
started=$SECONDS
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV" >"$LOG" 2>&1 \
  || fail "'$PYTHON -m venv $VENV' failed (log: $LOG); on Debian/Ubuntu install python3-venv."
# --no-deps: the file pins the whole resolved set, so pip only has to fetch and unpack.
if ! "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input --no-deps -r "$REQ" >>"$LOG" 2>&1; then
  tail -n 20 "$LOG" >&2
  fail "pip could not install Apache Superset from $REQ into $VENV (full log: $LOG). Check that PyPI is reachable (or a pip index is configured) and that the disk has ~1 GB free."
fi
"$VENV/bin/python" -c 'import superset, duckdb_engine, duckdb_extension_iceberg, trino.sqlalchemy' >>"$LOG" 2>&1 \
  || fail "Superset installed into $VENV but does not import (log: $LOG); delete $DIR and retry."
touch "$STAMP"
echo "setup-superset: installed in $((SECONDS - started)) s" >&2
echo "$VENV"
