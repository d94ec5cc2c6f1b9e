#!/usr/bin/env bash
# PostgreSQL for the JDBC-style SQL catalog tests: a private cluster on 127.0.0.1, separate from any
# system PostgreSQL. Usage: infra/services/postgres.sh install|start|stop|status|env
#
# The server binaries come from Debian (apt-get install postgresql; nothing to cache). The cluster
# is created on first start with initdb, with `lakehouse` as its superuser (password auth over TCP)
# and a `lakehouse` database. Unix sockets are off: the socket path would have to fit in 107 bytes
# and live in a directory the server may write, and every client here connects over TCP anyway.
#
# initdb and the server refuse to run as root, so as root they run as the `postgres` OS user (which
# the Debian package creates) and the data directory belongs to it. When that user cannot reach the
# repository (e.g. a clone under /root, mode 700) the data directory goes under /tmp instead.
#
# Settings (environment): LAKEHOUSE_PG_PORT (15432), LAKEHOUSE_PG_BIN (dir with pg_ctl; default the
# newest /usr/lib/postgresql/*/bin). User, password and database are `lakehouse`, fixed at initdb.
SERVICE=postgres
# shellcheck source=infra/services/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT="${LAKEHOUSE_PG_PORT:-15432}"
PG_USER=lakehouse
PG_PASSWORD=lakehouse
PG_DATABASE=lakehouse
URI="postgresql://$PG_USER:$PG_PASSWORD@$HOST:$PORT/$PG_DATABASE"

env_lines() {
  echo "LAKEHOUSE_PG_URI=$URI"
}

# Directory holding pg_ctl, initdb, psql; empty when PostgreSQL is not installed.
pg_bin() {
  if [ -n "${LAKEHOUSE_PG_BIN:-}" ]; then echo "$LAKEHOUSE_PG_BIN"; return; fi
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [ -z "$dir" ] && command -v pg_ctl >/dev/null 2>&1; then dir="$(dirname "$(command -v pg_ctl)")"; fi
  echo "$dir"
}

# The OS user that owns the cluster: postgres when we are root, else ourselves.
if [ "$(id -u)" = 0 ]; then
  as_owner() { runuser -u postgres -- "$@"; }
else
  as_owner() { "$@"; }
fi

# Where the cluster lives (see the header for the /tmp fallback). Deterministic per clone, so every
# command finds the same cluster.
cluster_dir() {
  if [ "$(id -u)" = 0 ]; then
    mkdir -p "$SERVICE_DIR"
    if ! runuser -u postgres -- test -x "$SERVICE_DIR" 2>/dev/null; then
      echo "${TMPDIR:-/tmp}/lakehouse-postgres-$(printf '%s' "$SERVICE_DIR" | cksum | cut -d' ' -f1)"
      return
    fi
  fi
  echo "$SERVICE_DIR"
}

install() {
  if [ -z "$(pg_bin)" ]; then
    apt_install pg_ctl postgresql
    [ -n "$(pg_bin)" ] || fail "apt-get installed postgresql but no /usr/lib/postgresql/*/bin/pg_ctl appeared; set LAKEHOUSE_PG_BIN."
  fi
  [ "$(id -u)" != 0 ] || id postgres >/dev/null 2>&1 \
    || fail "running as root needs the 'postgres' OS user (the Debian package creates it), because PostgreSQL refuses to run as root."
  say "PostgreSQL $("$(pg_bin)/pg_ctl" --version | awk '{print $3}') at $(pg_bin)"
}

psql_lakehouse() { # DATABASE SQL: runs one statement over TCP as the lakehouse superuser
  PGPASSWORD="$PG_PASSWORD" PGCONNECT_TIMEOUT=5 "$BIN/psql" -h "$HOST" -p "$PORT" -U "$PG_USER" \
    -d "$1" -v ON_ERROR_STOP=1 -qtAc "$2"
}

init_cluster() {
  local pwfile="$CLUSTER/pwfile"
  as_owner "$BIN/initdb" --help >/dev/null 2>&1 || fail "cannot run $BIN/initdb as $(as_owner id -un)."
  # --auth-host=scram-sha-256 with a password file: clients authenticate like against a real server.
  printf '%s\n' "$PG_PASSWORD" >"$pwfile"
  [ "$(id -u)" != 0 ] || chown postgres: "$pwfile"
  if ! as_owner "$BIN/initdb" -D "$DATA" -U "$PG_USER" --pwfile="$pwfile" --auth-local=trust \
    --auth-host=scram-sha-256 -E UTF8 --no-locale >"$CLUSTER/initdb.log" 2>&1; then
    rm -f "$pwfile"
    LOG_FILE="$CLUSTER/initdb.log" fail_with_log "initdb failed; the log above says why."
  fi
  rm -f "$pwfile"
}

# pg_ctl status is the authority on whether the cluster runs; prints the postmaster pid.
cluster_pid() {
  as_owner "$BIN/pg_ctl" status -D "$DATA" >/dev/null 2>&1 || return 1
  head -n 1 "$DATA/postmaster.pid"
}

start() {
  local pid
  if pid="$(cluster_pid)"; then
    write_env
    say "already running on $HOST:$PORT (pid $pid)"
    return 0
  fi
  [ -x "$BIN/pg_ctl" ] || fail "not installed; run 'infra/services/postgres.sh install' first."
  require_free_port "$PORT" LAKEHOUSE_PG_PORT
  mkdir -p "$CLUSTER"
  [ "$(id -u)" != 0 ] || chown postgres: "$CLUSTER"
  [ -f "$DATA/PG_VERSION" ] || init_cluster
  # Server settings on the command line rather than in postgresql.conf, so a changed
  # LAKEHOUSE_PG_PORT applies without re-creating the cluster. fsync=off: test data, and commits
  # get several times faster on small disks; a crash at worst loses this throwaway cluster.
  if ! as_owner "$BIN/pg_ctl" start -D "$DATA" -l "$LOG_FILE" -w -t "$START_TIMEOUT" \
    -o "-c listen_addresses=$HOST -p $PORT -c unix_socket_directories='' -c fsync=off" >/dev/null 2>&1; then
    fail_with_log "pg_ctl could not start the cluster in $DATA; the log above says why."
  fi
  wait_until "$START_TIMEOUT" "" psql_lakehouse postgres 'select 1'
  if [ "$(psql_lakehouse postgres "select count(*) from pg_database where datname = '$PG_DATABASE'")" = 0 ]; then
    psql_lakehouse postgres "create database $PG_DATABASE" || fail "could not create database $PG_DATABASE."
  fi
  write_env
  say "running on $HOST:$PORT (database $PG_DATABASE, data $DATA, pid $(cluster_pid))"
}

stop() {
  if ! cluster_pid >/dev/null; then
    rm -f "$ENV_FILE"
    say "not running"
    return 0
  fi
  # fast: roll back open transactions and disconnect clients rather than wait for them.
  as_owner "$BIN/pg_ctl" stop -D "$DATA" -m fast -w -t 30 >/dev/null
  rm -f "$ENV_FILE"
  say "stopped"
}

status() {
  local pid
  pid="$(cluster_pid)" || { say "stopped"; return 1; }
  say "running on $HOST:$PORT (pid $pid)"
}

BIN="$(pg_bin)"
CLUSTER="$(cluster_dir)"
DATA="$CLUSTER/data"
# The server writes its own log, so it must sit where the cluster owner may write.
LOG_FILE="$CLUSTER/postgres.log"

main "$@"
