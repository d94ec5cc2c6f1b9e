#!/usr/bin/env bash
# Real services for the integration tests, installed and run natively (no Docker) on 127.0.0.1.
#
#   infra/services.sh up [service...]      install what is missing, start, write services.env
#   infra/services.sh down [service...]    stop (data stays in .cache/services/ for the next up)
#   infra/services.sh status [service...]  one line each; exit 1 when any is stopped
#   infra/services.sh install [service...] only install (fills $LAKEHOUSE_CACHE, e.g. ahead of CI)
#
# Services (default: all): minio, postgres, moto, iceberg-rest (which needs minio and gets it), kafka,
# trino (which reads the tables through iceberg-rest and gets it and minio).
# Each is a script in infra/services/ with install|start|stop|status|env; see lib.sh for the layout.
#
# After up and down, .cache/services/services.env holds the KEY=VALUE lines of every running
# service (LAKEHOUSE_S3_*, LAKEHOUSE_REST_*, LAKEHOUSE_PG_URI, LAKEHOUSE_GLUE_*, LAKEHOUSE_KAFKA_BROKERS); tests/setup/services.ts
# loads it into the test processes. Runs are serialised with a lock, so two callers cannot race.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCRIPTS="$ROOT/infra/services"
RUN_DIR="${LAKEHOUSE_SERVICES_DIR:-$ROOT/.cache/services}"
ENV_OUT="$RUN_DIR/services.env"
# Start order: iceberg-rest reads MinIO's settings when it starts, so MinIO comes first; Trino reads both.
ALL=(minio postgres moto iceberg-rest kafka trino)

usage() { echo "usage: $0 up|down|status|install [minio|postgres|moto|iceberg-rest|kafka|trino ...]" >&2; exit 2; }

command="${1:-}"; [ $# -gt 0 ] && shift
case "$command" in up|down|status|install) ;; *) usage ;; esac

requested=" ${*:-${ALL[*]}} "
for arg in "$@"; do
  [[ " ${ALL[*]} " == *" $arg "* ]] || { echo "services: unknown service '$arg'" >&2; usage; }
done
# iceberg-rest keeps its table files in MinIO, so bringing it up brings MinIO up too; Trino needs both.
if [[ "$command" == up || "$command" == install ]] && [[ "$requested" == *" trino "* ]]; then
  requested+="iceberg-rest "
fi
if [[ "$command" == up || "$command" == install ]] && [[ "$requested" == *" iceberg-rest "* ]]; then
  requested+="minio "
fi
selected=() # requested services, in start order
for s in "${ALL[@]}"; do
  [[ "$requested" == *" $s "* ]] && selected+=("$s")
done

mkdir -p "$RUN_DIR"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$RUN_DIR/.lock"
  # Long enough for another caller's first install (the MinIO build) to finish.
  flock -w 1200 9 || { echo "services: another infra/services.sh has held $RUN_DIR/.lock for 20 minutes; is one stuck?" >&2; exit 1; }
fi

# Runs one service script. 9>&- : the servers it starts must not inherit the lock descriptor, or
# they would hold the lock for as long as they run and the next call would wait forever.
svc() { bash "$SCRIPTS/$1.sh" "$2" 9>&-; }

# Collects the env lines of every running service (not only the selected ones), so a partial
# up or down never drops another service's keys.
write_env_file() {
  local s tmp="$ENV_OUT.tmp"
  echo "# Written by infra/services.sh at $(date -u +%Y-%m-%dT%H:%M:%SZ); the running services' settings." >"$tmp"
  for s in "${ALL[@]}"; do
    if svc "$s" status >/dev/null 2>&1 && [ -s "$RUN_DIR/$s/service.env" ]; then
      cat "$RUN_DIR/$s/service.env" >>"$tmp"
    fi
  done
  mv "$tmp" "$ENV_OUT"
}

# Installs run in parallel: the MinIO build takes minutes and the others download meanwhile.
install_all() {
  local s failed=0 tmp
  tmp="$(mktemp -d)"
  declare -A pids=()
  for s in "${selected[@]}"; do
    svc "$s" install >"$tmp/$s" 2>&1 &
    pids[$s]=$!
  done
  for s in "${selected[@]}"; do
    wait "${pids[$s]}" || failed=1
    cat "$tmp/$s"
  done
  rm -rf "$tmp"
  [ "$failed" = 0 ] || { echo "services: installing failed; see the messages above." >&2; exit 1; }
}

started=$SECONDS
case "$command" in
  install)
    install_all
    ;;
  up)
    install_all
    for s in "${selected[@]}"; do svc "$s" start; done
    write_env_file
    echo "services: up in $((SECONDS - started))s; settings in $ENV_OUT"
    ;;
  down)
    for ((i = ${#selected[@]} - 1; i >= 0; i--)); do svc "${selected[i]}" stop; done
    write_env_file
    ;;
  status)
    rc=0
    for s in "${selected[@]}"; do svc "$s" status || rc=1; done
    exit "$rc"
    ;;
esac
