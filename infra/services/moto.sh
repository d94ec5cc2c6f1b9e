#!/usr/bin/env bash
# moto's server mode: a local implementation of the AWS Glue API (and S3, STS) for the Glue catalog
# tests. Usage: infra/services/moto.sh install|start|stop|status|env
#
# moto[server] lives in its own venv under $LAKEHOUSE_CACHE, not in the repository's .venv:
# - it is a server, not a reader the tests import, so like MinIO it is cached per machine, not per
#   clone, and a change to infra/python/requirements.txt does not reinstall it;
# - the server extra brings ~300 MB (cfn-lint, sympy, docker, openapi validators, ...) that would
#   slow every .venv rebuild and whose pins would constrain the readers' pins. (Its botocore needs
#   python-dateutil < 3: pip could not resolve it beside the python-dateutil 4.0.0 that
#   requirements.txt pinned at the time.)
# Only moto itself is pinned; its dependencies resolve once at install and stay in the cached venv.
#
# It runs through moto-server.py (beside this script), which adds the one AWS behaviour the Glue
# catalog relies on and moto 5.2.5 lacks: UpdateTable refuses a stale VersionId with
# ConcurrentModificationException. Re-check that wrapper when changing MOTO_VERSION.
#
# State is in memory: a restart forgets every Glue database, which tests must not rely on anyway.
# moto accepts any credentials; the env file names fixed ones so clients sign requests normally.
#
# Settings (environment): LAKEHOUSE_MOTO_PORT (15000), LAKEHOUSE_GLUE_REGION (us-east-1),
# PYTHON (interpreter for the venv, default python3, 3.9 or newer).
SERVICE=moto
# shellcheck source=infra/services/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MOTO_VERSION=5.2.5
PYTHON="${PYTHON:-python3}"
PORT="${LAKEHOUSE_MOTO_PORT:-15000}"
REGION="${LAKEHOUSE_GLUE_REGION:-us-east-1}"
URI="http://$HOST:$PORT"

# Keyed by the interpreter's version too: a venv only works with the Python that created it.
py_tag() { "$PYTHON" -c 'import sys; print("py%d.%d" % sys.version_info[:2])' 2>/dev/null; }
VENV="$LAKEHOUSE_CACHE/moto/$MOTO_VERSION-$(py_tag || echo unknown)/venv"
STAMP="$VENV/.installed"
LAUNCHER="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/moto-server.py"
PATTERN="$LAUNCHER"

env_lines() {
  cat <<EOF
LAKEHOUSE_GLUE_ENDPOINT=$URI
LAKEHOUSE_GLUE_REGION=$REGION
LAKEHOUSE_GLUE_ACCESS_KEY=testing
LAKEHOUSE_GLUE_SECRET_KEY=testing
EOF
}

install() {
  if [ -f "$STAMP" ]; then
    say "moto $MOTO_VERSION cached in $VENV"
    return 0
  fi
  command -v "$PYTHON" >/dev/null 2>&1 \
    || fail "'$PYTHON' was not found; install Python 3.9+ with venv (Debian: apt-get install python3-venv) or set PYTHON."
  local log="$LAKEHOUSE_CACHE/moto/pip-install.log"
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  "$PYTHON" -m venv "$VENV" >"$log" 2>&1 \
    || fail "'$PYTHON -m venv' failed (log: $log); on Debian install python3-venv."
  if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    "moto[server]==$MOTO_VERSION" >>"$log" 2>&1; then
    tail -n 20 "$log" >&2
    fail "pip could not install moto[server]==$MOTO_VERSION (log: $log); check that PyPI is reachable."
  fi
  touch "$STAMP"
  say "installed moto $MOTO_VERSION into $VENV"
}

start() {
  local pid
  if pid="$(running_pid "$PATTERN")"; then
    write_env
    say "already running on $URI (pid $pid)"
    return 0
  fi
  [ -f "$STAMP" ] || fail "not installed; run 'infra/services/moto.sh install' first."
  require_free_port "$PORT" LAKEHOUSE_MOTO_PORT
  spawn "$VENV/bin/python" "$LAUNCHER" -H "$HOST" -p "$PORT"
  # /moto-api/ is moto's own dashboard: answers once the server routes requests.
  wait_until "$START_TIMEOUT" "$PATTERN" curl -fsS "$URI/moto-api/"
  write_env
  say "running on $URI (Glue with VersionId checks, S3, STS; region $REGION, pid $(cat "$PID_FILE"))"
}

stop() { stop_pid "$PATTERN"; }

status() {
  local pid
  pid="$(running_pid "$PATTERN")" || { say "stopped"; return 1; }
  say "running on $URI (pid $pid)"
}

main "$@"
