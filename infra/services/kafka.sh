#!/usr/bin/env bash
# Apache Kafka: one KRaft node (broker and controller in one JVM) for the ingest tests.
# Usage: infra/services/kafka.sh install|start|stop|status|env
#
# What runs: org.apache.kafka:kafka_2.13:3.9.1 and its runtime dependencies from Maven Central, resolved
# once by `mvn dependency:copy-dependencies` from a throwaway pom into $LAKEHOUSE_CACHE/kafka/<version>/libs
# (57 jars, 46 MB; about 10 s with an empty Maven repository). 3.9 is the last line that runs on Java 17
# and still speaks the old protocol versions kafkajs uses (4.0 removed them). kafka-tools (TopicCommand)
# is left out: it drags in Kafka Connect and Jetty (+30 MB) and nothing here needs it; topics are created
# by pipeline/kafka-topics.ts, and the health check uses kafka.admin.BrokerApiVersionsCommand from core.
# slf4j-reload4j is added so the broker's log reaches $LOG_FILE (kafka_2.13 ships no slf4j binding).
#
# The data dir is formatted once (kafka.tools.StorageTool format) and kept across stop/start, like the
# other services' data. auto.create.topics.enable=false: a misspelt topic must fail, as in production.
#
# Settings (environment): LAKEHOUSE_KAFKA_PORT (19092), LAKEHOUSE_KAFKA_CONTROLLER_PORT (19093),
# LAKEHOUSE_KAFKA_JAVA_OPTS (JVM flags, default a 512 MB heap).
SERVICE=kafka
# shellcheck source=infra/services/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KAFKA_VERSION=3.9.1
# The broker has no slf4j binding of its own; this is the one Kafka's own distribution ships.
SLF4J_VERSION=1.7.36
DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.6.1
INSTALL_DIR="$LAKEHOUSE_CACHE/kafka/$KAFKA_VERSION"
LIBS="$INSTALL_DIR/libs"

PORT="${LAKEHOUSE_KAFKA_PORT:-19092}"
CONTROLLER_PORT="${LAKEHOUSE_KAFKA_CONTROLLER_PORT:-19093}"
BROKERS="$HOST:$PORT"
DATA_DIR="$SERVICE_DIR/data"
CONFIG="$SERVICE_DIR/server.properties"
LOG4J_CONFIG="$SERVICE_DIR/log4j.properties"
# The server's main class is kafka.Kafka; the config path makes the pattern specific to this clone.
PATTERN="kafka.Kafka $CONFIG"

env_lines() {
  echo "LAKEHOUSE_KAFKA_BROKERS=$BROKERS"
}

install() {
  if [ -f "$LIBS/.complete" ]; then
    say "cached in $LIBS"
    return 0
  fi
  if ! command -v java >/dev/null 2>&1; then
    apt_install java openjdk-17-jdk-headless
  fi
  if ! command -v mvn >/dev/null 2>&1; then
    apt_install mvn maven
  fi
  local work="$INSTALL_DIR/resolve" log="$INSTALL_DIR/mvn.log"
  rm -rf "$work" "$LIBS.tmp"
  mkdir -p "$work"
  cat >"$work/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>lakehouse.local</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>$SLF4J_VERSION</version></dependency>
  </dependencies>
</project>
EOF
  say "resolving kafka_2.13 $KAFKA_VERSION and its dependencies from Maven Central (first time only; log: $log)"
  # -C: fail on a checksum mismatch instead of warning. The Maven repository lives in the work dir and
  # is removed afterwards: libs/ is all the broker needs.
  if ! mvn -B -q -C -f "$work/pom.xml" -Dmaven.repo.local="$work/m2" \
    "$DEPENDENCY_PLUGIN:copy-dependencies" -DincludeScope=runtime -DoutputDirectory="$LIBS.tmp" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    fail "resolving Kafka's jars with Maven failed (log: $log); check that Maven Central (repo1.maven.org) is reachable."
  fi
  [ -f "$LIBS.tmp/kafka_2.13-$KAFKA_VERSION.jar" ] || fail "Maven finished but $LIBS.tmp has no kafka_2.13-$KAFKA_VERSION.jar (log: $log)."
  touch "$LIBS.tmp/.complete"
  rm -rf "$LIBS" "$work"
  mv "$LIBS.tmp" "$LIBS"
  say "kafka $KAFKA_VERSION ready in $LIBS ($(find "$LIBS" -name '*.jar' | wc -l) jars)"
}

# Rewritten at every start so the ports follow the settings; the data dir keeps the cluster.
write_config() {
  mkdir -p "$SERVICE_DIR"
  cat >"$CONFIG" <<EOF
# Written by infra/services/kafka.sh; edits are lost at the next start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA_DIR
num.partitions=1
auto.create.topics.enable=false
# One node: the internal topics default to 3 replicas and consumer groups hang waiting for them.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
min.insync.replicas=1
# 50 by default; creating them delays the first consumer group by seconds and none is needed here.
offsets.topic.num.partitions=10
# Tests start consumers one after another; the default 3 s wait before the first rebalance is pure delay.
group.initial.rebalance.delay.ms=0
EOF
  cat >"$LOG4J_CONFIG" <<'EOF'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.org.apache.kafka.clients=WARN
EOF
}

# Kafka's cluster id: 16 random bytes, URL-safe base64 without padding (what `StorageTool random-uuid`
# prints, without starting a JVM for it).
cluster_id() {
  head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'
}

format_once() {
  [ -f "$DATA_DIR/meta.properties" ] && return 0
  mkdir -p "$DATA_DIR"
  local log="$SERVICE_DIR/format.log"
  java -cp "$LIBS/*" -Dlog4j.configuration="file:$LOG4J_CONFIG" kafka.tools.StorageTool format \
    -t "$(cluster_id)" -c "$CONFIG" >"$log" 2>&1 \
    || { cat "$log" >&2; fail "formatting $DATA_DIR failed (log: $log)."; }
}

# A metadata request through the Admin client, answered by the broker itself: listening is not enough,
# a KRaft broker accepts connections before it has caught up with the metadata log.
metadata_ok() {
  timeout 30 java -Xmx128m -cp "$LIBS/*" -Dlog4j.configuration="file:$LOG4J_CONFIG" \
    kafka.admin.BrokerApiVersionsCommand --bootstrap-server "$BROKERS" >/dev/null 2>&1
}

start() {
  local pid
  if pid="$(running_pid "$PATTERN")"; then
    write_env
    say "already running on $BROKERS (pid $pid)"
    return 0
  fi
  [ -f "$LIBS/.complete" ] || fail "not installed; run 'infra/services/kafka.sh install' first."
  require_free_port "$PORT" LAKEHOUSE_KAFKA_PORT
  require_free_port "$CONTROLLER_PORT" LAKEHOUSE_KAFKA_CONTROLLER_PORT
  write_config
  format_once
  # Flags from Kafka's kafka-run-class.sh / kafka-server-start.sh, with a smaller heap for the 2-core,
  # shared test machine.
  # shellcheck disable=SC2086 # LAKEHOUSE_KAFKA_JAVA_OPTS is a list of flags
  spawn java ${LAKEHOUSE_KAFKA_JAVA_OPTS:--Xms128m -Xmx512m} \
    -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$LOG4J_CONFIG" -Dkafka.logs.dir="$SERVICE_DIR" \
    -cp "$LIBS/*" kafka.Kafka "$CONFIG"
  # Cheap port poll first; each metadata check starts a JVM (about a second).
  wait_until "$START_TIMEOUT" "$PATTERN" port_open "$PORT"
  wait_until "$START_TIMEOUT" "$PATTERN" metadata_ok
  write_env
  say "running on $BROKERS (data $DATA_DIR, pid $(cat "$PID_FILE"))"
}

stop() { stop_pid "$PATTERN"; }

status() {
  local pid
  pid="$(running_pid "$PATTERN")" || { say "stopped"; return 1; }
  say "running on $BROKERS (pid $pid)"
}

main "$@"
