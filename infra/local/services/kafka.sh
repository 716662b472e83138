# shellcheck shell=bash
# Apache Kafka 3.9.1, single KRaft node (broker+controller), jars from Maven
# Central. Broker PLAINTEXT://127.0.0.1:19092, controller 127.0.0.1:19093.

KAFKA_PORT=19092
KAFKA_CONTROLLER_PORT=19093
KAFKA_DIR="$DATA_ROOT/kafka"
KAFKA_LIBS="$KAFKA_DIR/libs"
KAFKA_POM="$LOCAL_DIR/kafka/pom.xml"
KAFKA_CONF="$KAFKA_DIR/server.properties"
KAFKA_LOG="$KAFKA_DIR/server.log"
KAFKA_PIDFILE="$KAFKA_DIR/kafka.pid"

kafka_port() { echo "$KAFKA_PORT"; }

kafka_apt_packages() {
  command -v java >/dev/null || echo openjdk-17-jre-headless
  command -v mvn >/dev/null || echo maven
}

# The jars are copied once; the marker holds the pom's checksum so editing the
# pom (e.g. a version bump) refreshes them.
kafka_install() {
  local sum
  sum="$(sha256sum "$KAFKA_POM" | cut -d' ' -f1)"
  if [[ "$(cat "$KAFKA_LIBS/.pom.sha256" 2>/dev/null)" == "$sum" ]]; then
    return 0
  fi
  log kafka "fetching broker jars from Maven Central into $KAFKA_LIBS"
  rm -rf "$KAFKA_LIBS"
  mkdir -p "$KAFKA_DIR"
  mvn -q -B -f "$KAFKA_POM" dependency:copy-dependencies \
    -DoutputDirectory="$KAFKA_LIBS" >"$KAFKA_DIR/mvn.log" 2>&1 ||
    fail kafka "$KAFKA_DIR/mvn.log" "mvn dependency:copy-dependencies failed"
  echo "$sum" >"$KAFKA_LIBS/.pom.sha256"
  log kafka "$(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars, $(du -sh "$KAFKA_LIBS" | cut -f1)"
}

kafka_pid() { our_pid "$KAFKA_PIDFILE" "$KAFKA_CONF"; }

kafka_write_config() {
  cat >"$KAFKA_CONF" <<PROPS
# Written by infra/local/services/kafka.sh on every start: edit that instead.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$KAFKA_DIR/data
num.partitions=3
default.replication.factor=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
PROPS
  cat >"$KAFKA_DIR/log4j.properties" <<PROPS
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=$KAFKA_LOG
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
PROPS
}

KAFKA_JAVA=(java -Xmx512m -Xms256m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
  -Dlog4j.configuration="file:$KAFKA_DIR/log4j.properties" -Dkafka.logs.dir="$KAFKA_DIR"
  -cp "$KAFKA_LIBS/*")

# Ready when the broker answers a metadata request (kafkajs from the repo's
# node_modules); without node_modules, when the port is open and the log says
# the server started.
kafka_ready() {
  if [[ -d "$REPO_ROOT/node_modules/kafkajs" ]] && command -v node >/dev/null; then
    node "$LOCAL_DIR/check-kafka.mjs" ready "127.0.0.1:$KAFKA_PORT"
  else
    port_open "$KAFKA_PORT" && grep -q 'Kafka Server started' "$KAFKA_LOG"
  fi
}

kafka_start() {
  already_running kafka "$KAFKA_PORT" && return 0
  mkdir -p "$KAFKA_DIR/data"
  kafka_write_config
  if [[ ! -s "$KAFKA_DIR/data/meta.properties" ]]; then
    # A random 16-byte id in Kafka's url-safe base64 form.
    local cluster_id
    cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
    log kafka "formatting storage (cluster id $cluster_id)"
    "${KAFKA_JAVA[@]}" kafka.tools.StorageTool format -g -t "$cluster_id" -c "$KAFKA_CONF" \
      >"$KAFKA_DIR/format.log" 2>&1 || fail kafka "$KAFKA_DIR/format.log" "storage format failed"
  fi
  start_daemon kafka "$KAFKA_PORT" "$KAFKA_PIDFILE" "$KAFKA_CONF" "$KAFKA_LOG" 120 kafka_ready \
    "${KAFKA_JAVA[@]}" kafka.Kafka "$KAFKA_CONF"
}

kafka_stop() { stop_pid kafka "$KAFKA_PIDFILE" "$KAFKA_CONF" 60 "$KAFKA_PORT"; }

kafka_status() { print_status kafka "$KAFKA_PORT" "$(kafka_pid || true)"; }
