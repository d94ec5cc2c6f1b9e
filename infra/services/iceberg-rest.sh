#!/usr/bin/env bash
# Apache Iceberg's reference REST catalog server, storing metadata in a SQLite file and table files
# in MinIO. Usage: infra/services/iceberg-rest.sh install|start|stop|status|env
#
# What runs: org.apache.iceberg:iceberg-open-api:1.10.1 from Maven Central, a 212 MB runnable jar
# that already contains S3FileIO with the AWS SDK, the JDBC catalog and the SQLite driver, so no
# other jar is needed. It is started through LoopbackRESTCatalogServer.java (beside this script) so
# that it listens on 127.0.0.1 only; that wrapper is compiled once against the jar (needs javac).
# Configuration reaches the server as CATALOG_* environment variables: upstream maps CATALOG_A_B__C
# to the catalog property a.b-c.
#
# Needs MinIO running (reads its settings from $RUN_DIR/minio/service.env).
# Settings (environment): LAKEHOUSE_REST_PORT (18181), LAKEHOUSE_REST_WAREHOUSE (s3://<bucket>/rest),
# LAKEHOUSE_REST_JAVA_OPTS (JVM flags, default a 1 GB heap).
SERVICE=iceberg-rest
# shellcheck source=infra/services/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ICEBERG_VERSION=1.10.1
JAR_URL="https://repo1.maven.org/maven2/org/apache/iceberg/iceberg-open-api/$ICEBERG_VERSION/iceberg-open-api-$ICEBERG_VERSION.jar"
JAR_SHA256=09e6aef58984eaa58bf1e1bc5193ad023e929c6bfd38c82db7b83ffe825af724
INSTALL_DIR="$LAKEHOUSE_CACHE/iceberg-rest/$ICEBERG_VERSION"
JAR="$INSTALL_DIR/iceberg-open-api-$ICEBERG_VERSION.jar"
WRAPPER_SRC="$(dirname "${BASH_SOURCE[0]}")/LoopbackRESTCatalogServer.java"
WRAPPER_CLASS=org.apache.iceberg.rest.LoopbackRESTCatalogServer
# Compiled classes are keyed by the source's hash, so an edited wrapper is recompiled.
WRAPPER_DIR="$INSTALL_DIR/wrapper-$(sha256sum "$WRAPPER_SRC" | cut -c1-12)"

PORT="${LAKEHOUSE_REST_PORT:-18181}"
URI="http://$HOST:$PORT"
CATALOG_DB="$SERVICE_DIR/catalog.db"
MINIO_ENV="$RUN_DIR/minio/service.env"
PATTERN="$WRAPPER_CLASS"

# S3 settings come from the running MinIO, so there is one source of truth for them.
load_minio_env() {
  [ -s "$MINIO_ENV" ] \
    || fail "MinIO is not running ($MINIO_ENV is missing); the REST server keeps table files there. Start both with 'infra/services.sh up iceberg-rest'."
  local line
  while IFS= read -r line; do
    [ -n "$line" ] && export "${line?}"
  done <"$MINIO_ENV"
}

env_lines() {
  echo "LAKEHOUSE_REST_URI=$URI"
  echo "LAKEHOUSE_REST_WAREHOUSE=${LAKEHOUSE_REST_WAREHOUSE:-s3://${LAKEHOUSE_S3_BUCKET:-warehouse}/rest}"
}

install() {
  if ! command -v javac >/dev/null 2>&1 || ! command -v java >/dev/null 2>&1; then
    apt_install javac openjdk-17-jdk-headless
  fi
  if [ ! -f "$JAR" ]; then
    download "$JAR_URL" "$JAR" "$JAR_SHA256"
  fi
  if [ ! -f "$WRAPPER_DIR/org/apache/iceberg/rest/LoopbackRESTCatalogServer.class" ]; then
    mkdir -p "$WRAPPER_DIR.tmp"
    javac -nowarn -d "$WRAPPER_DIR.tmp" -cp "$JAR" "$WRAPPER_SRC" \
      || fail "compiling $WRAPPER_SRC against $JAR failed; the wrapper is written for iceberg-open-api $ICEBERG_VERSION."
    rm -rf "$WRAPPER_DIR"
    mv "$WRAPPER_DIR.tmp" "$WRAPPER_DIR"
  fi
  say "iceberg-open-api $ICEBERG_VERSION ready in $INSTALL_DIR"
}

start() {
  local pid
  load_minio_env
  if pid="$(running_pid "$PATTERN")"; then
    write_env
    say "already running on $URI (pid $pid)"
    return 0
  fi
  [ -f "$JAR" ] && [ -d "$WRAPPER_DIR" ] || fail "not installed; run 'infra/services/iceberg-rest.sh install' first."
  require_free_port "$PORT" LAKEHOUSE_REST_PORT
  mkdir -p "$SERVICE_DIR"
  local warehouse="${LAKEHOUSE_REST_WAREHOUSE:-s3://$LAKEHOUSE_S3_BUCKET/rest}"
  # AWS_*: the SDK inside S3FileIO looks for a region and credentials before it reads the catalog
  # properties in some code paths; AWS_EC2_METADATA_DISABLED stops it probing 169.254.169.254.
  # jdbc:sqlite file: the catalog survives restarts, like a real one; tests use unique namespaces.
  # CATALOG_CLIENTS=1: one JDBC connection. With upstream's default pool of 2, concurrent commits
  # make the two connections fight over the SQLite file lock and most fail with HTTP 500
  # (SQLITE_BUSY; 29 of 32 in a 16-way test). With one, they queue, and contention on one table
  # ends as it should: 200, or 409 when the server's own retries run out.
  # Heap: the catalog holds metadata only; 1 GB caps it on the 2-core, shared test machine.
  # shellcheck disable=SC2086 # LAKEHOUSE_REST_JAVA_OPTS is a list of flags
  CATALOG_REST_PORT="$PORT" \
    CATALOG_URI="jdbc:sqlite:$CATALOG_DB" \
    CATALOG_WAREHOUSE="$warehouse" \
    CATALOG_IO__IMPL=org.apache.iceberg.aws.s3.S3FileIO \
    CATALOG_S3_ENDPOINT="$LAKEHOUSE_S3_ENDPOINT" \
    CATALOG_S3_PATH__STYLE__ACCESS=true \
    CATALOG_S3_ACCESS__KEY__ID="$LAKEHOUSE_S3_ACCESS_KEY" \
    CATALOG_S3_SECRET__ACCESS__KEY="$LAKEHOUSE_S3_SECRET_KEY" \
    CATALOG_CLIENT_REGION="$LAKEHOUSE_S3_REGION" \
    CATALOG_CLIENTS=1 \
    AWS_REGION="$LAKEHOUSE_S3_REGION" \
    AWS_ACCESS_KEY_ID="$LAKEHOUSE_S3_ACCESS_KEY" \
    AWS_SECRET_ACCESS_KEY="$LAKEHOUSE_S3_SECRET_KEY" \
    AWS_EC2_METADATA_DISABLED=true \
    spawn java ${LAKEHOUSE_REST_JAVA_OPTS:--Xms64m -Xmx1g} \
      -Dlakehouse.rest.host="$HOST" -cp "$WRAPPER_DIR:$JAR" "$WRAPPER_CLASS"
  wait_until "$START_TIMEOUT" "$PATTERN" curl -fsS "$URI/v1/config"
  write_env
  say "running on $URI (warehouse $warehouse, catalog $CATALOG_DB, pid $(cat "$PID_FILE"))"
}

stop() { stop_pid "$PATTERN"; }

status() {
  local pid
  pid="$(running_pid "$PATTERN")" || { say "stopped"; return 1; }
  say "running on $URI (pid $pid)"
}

main "$@"
