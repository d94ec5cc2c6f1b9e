#!/usr/bin/env bash
# MinIO: the S3-compatible object store behind every warehouse the integration tests write
# (s3://$LAKEHOUSE_S3_BUCKET/...). Usage: infra/services/minio.sh install|start|stop|status|env
#
# MinIO ships no binaries we can reach and the Go module proxy has no RELEASE.* tags for it, so it
# is built from source with `go install` at the one pseudo-version the proxy serves. The first build
# downloads ~1.2 GB of modules and takes about 3 minutes on 2 cores (2m41s with empty Go caches
# on the reference machine); the binary, 150 MB, is then cached under
# $LAKEHOUSE_CACHE/minio/<version>/ and reused by every clone on the machine.
#
# Settings (environment): LAKEHOUSE_MINIO_PORT (19000), LAKEHOUSE_MINIO_CONSOLE_PORT (19001),
# LAKEHOUSE_MINIO_USER (lakehouse; 3-20 chars), LAKEHOUSE_MINIO_PASSWORD (lakehouse-secret; 8-40 chars),
# LAKEHOUSE_S3_BUCKET (warehouse; created at start), LAKEHOUSE_S3_REGION (us-east-1).
SERVICE=minio
# shellcheck source=infra/services/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Commit 7aac2a2c5b7c of github.com/minio/minio (2026-02-12), the newest the proxy serves.
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
MINIO_BIN="$LAKEHOUSE_CACHE/minio/$MINIO_VERSION/minio"

PORT="${LAKEHOUSE_MINIO_PORT:-19000}"
CONSOLE_PORT="${LAKEHOUSE_MINIO_CONSOLE_PORT:-19001}"
ROOT_USER="${LAKEHOUSE_MINIO_USER:-lakehouse}"
ROOT_PASSWORD="${LAKEHOUSE_MINIO_PASSWORD:-lakehouse-secret}"
BUCKET="${LAKEHOUSE_S3_BUCKET:-warehouse}"
REGION="${LAKEHOUSE_S3_REGION:-us-east-1}"
ENDPOINT="http://$HOST:$PORT"
DATA_DIR="$SERVICE_DIR/data"
PATTERN="$MINIO_BIN server"

env_lines() {
  cat <<EOF
LAKEHOUSE_S3_ENDPOINT=$ENDPOINT
LAKEHOUSE_S3_ACCESS_KEY=$ROOT_USER
LAKEHOUSE_S3_SECRET_KEY=$ROOT_PASSWORD
LAKEHOUSE_S3_REGION=$REGION
LAKEHOUSE_S3_BUCKET=$BUCKET
LAKEHOUSE_S3_PATH_STYLE=true
EOF
}

install() {
  if [ -x "$MINIO_BIN" ]; then
    say "cached at $MINIO_BIN"
    return 0
  fi
  command -v go >/dev/null 2>&1 \
    || fail "'go' is not on PATH; MinIO is built from source. Install Go 1.21 or newer (it fetches the toolchain MinIO asks for from the Go module proxy) and retry."
  local tmp="$MINIO_BIN.build" log="$LAKEHOUSE_CACHE/minio/$MINIO_VERSION/go-install.log"
  mkdir -p "$tmp"
  say "building github.com/minio/minio@$MINIO_VERSION from source (first time only, about 3 min; log: $log)"
  if ! GOBIN="$tmp" go install "github.com/minio/minio@$MINIO_VERSION" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    fail "'go install github.com/minio/minio@$MINIO_VERSION' failed (log: $log). Check that the Go module proxy is reachable and that ~/go has ~1.5 GB free."
  fi
  mv "$tmp/minio" "$MINIO_BIN"
  rmdir "$tmp"
  say "built $MINIO_BIN"
}

# Signed S3 request with curl's built-in SigV4 (no AWS CLI or mc needed); prints the HTTP status.
s3_status() { # METHOD PATH
  curl -sS -o /dev/null -w '%{http_code}' -X "$1" \
    --aws-sigv4 "aws:amz:$REGION:s3" --user "$ROOT_USER:$ROOT_PASSWORD" "$ENDPOINT/$2"
}

ensure_bucket() {
  local code
  code="$(s3_status HEAD "$BUCKET")"
  case "$code" in
    200) return 0 ;;
    404) ;;
    *) fail "checking bucket '$BUCKET' returned HTTP $code; are LAKEHOUSE_MINIO_USER/PASSWORD the ones this server started with? ('infra/services/minio.sh stop' and start again)" ;;
  esac
  code="$(s3_status PUT "$BUCKET")"
  [ "$code" = 200 ] || fail "creating bucket '$BUCKET' returned HTTP $code."
}

start() {
  local pid
  if pid="$(running_pid "$PATTERN")"; then
    ensure_bucket
    write_env
    say "already running on $ENDPOINT (pid $pid)"
    return 0
  fi
  [ -x "$MINIO_BIN" ] || fail "not installed; run 'infra/services/minio.sh install' first."
  [ "${#ROOT_USER}" -ge 3 ] && [ "${#ROOT_USER}" -le 20 ] \
    || fail "LAKEHOUSE_MINIO_USER must be 3-20 characters (MinIO refuses to start otherwise)."
  [ "${#ROOT_PASSWORD}" -ge 8 ] && [ "${#ROOT_PASSWORD}" -le 40 ] \
    || fail "LAKEHOUSE_MINIO_PASSWORD must be 8-40 characters (MinIO refuses to start otherwise)."
  require_free_port "$PORT" LAKEHOUSE_MINIO_PORT
  require_free_port "$CONSOLE_PORT" LAKEHOUSE_MINIO_CONSOLE_PORT
  mkdir -p "$DATA_DIR"
  # MINIO_UPDATE=off: a source build must never try to replace itself from the network.
  MINIO_ROOT_USER="$ROOT_USER" MINIO_ROOT_PASSWORD="$ROOT_PASSWORD" MINIO_SITE_REGION="$REGION" \
    MINIO_UPDATE=off \
    spawn "$MINIO_BIN" server --quiet --address "$HOST:$PORT" --console-address "$HOST:$CONSOLE_PORT" "$DATA_DIR"
  wait_until "$START_TIMEOUT" "$PATTERN" curl -fsS "$ENDPOINT/minio/health/ready"
  ensure_bucket
  write_env
  say "running on $ENDPOINT (console http://$HOST:$CONSOLE_PORT, bucket '$BUCKET', pid $(cat "$PID_FILE"))"
}

stop() { stop_pid "$PATTERN"; }

status() {
  local pid
  pid="$(running_pid "$PATTERN")" || { say "stopped"; return 1; }
  say "running on $ENDPOINT (pid $pid)"
}

main "$@"
