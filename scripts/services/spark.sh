#!/usr/bin/env bash
# A real Apache Spark 4.2.0 standalone cluster (one master, one worker) for development and tests,
# run from Maven Central jars (no Docker, no Spark distribution needed).
#
#   scripts/services/spark.sh fetch   download the jars once (spark/pom.xml → the cache)
#   scripts/services/spark.sh up      fetch, start master and worker detached, wait until the master
#                                     is ALIVE with an ALIVE worker and the REST server answers; does
#                                     nothing if a cluster (ours or any other) already answers
#   scripts/services/spark.sh down    stop the worker (and the drivers and executors it runs), then
#                                     the master, that these scripts started (SIGTERM, then SIGKILL);
#                                     never touches a process it did not start
#   scripts/services/spark.sh status  say whether the cluster answers; exit 0 only if it does
#
# Variables (defaults in brackets):
#   SPARK_MASTER_PORT         master RPC on 127.0.0.1 (spark://127.0.0.1:PORT)        [7077]
#   SPARK_MASTER_WEBUI_PORT   master web UI, /json/ lists workers, drivers, apps      [8080]
#   SPARK_MASTER_REST_PORT    REST submission server (no authentication: loopback)    [6066]
#   SPARK_WORKER_WEBUI_PORT   worker web UI, serves the drivers' logs (/log/?driverId) [8081]
#   SPARK_WORKER_CORES        cores the worker offers (2 at least: a cluster-mode
#                             driver takes one, its executor needs another)           [2]
#   SPARK_WORKER_MEMORY       memory the worker offers to drivers and executors       [1536m]
#   SPARK_DAEMON_MEMORY       heap of the master and of the worker JVMs themselves    [512m]
#   SPARK_START_TIMEOUT       seconds to wait for the cluster to be ready             [120]
#   SPARK_STOP_TIMEOUT        seconds between SIGTERM and SIGKILL                     [30]
#   SPARK_RUN_DIR   SPARK_HOME, logs, pids, the worker's work dir  [$JOBWIRE_RUN_DIR/spark-$SPARK_MASTER_PORT]
#   JOBWIRE_CACHE_DIR, JOBWIRE_RUN_DIR, JOBWIRE_M2_REPO: see lib.sh
# Jars: $JOBWIRE_CACHE_DIR/spark-4.2.0/lib. Logs: $SPARK_RUN_DIR/logs/{master,worker}.log; each
# driver's stdout and stderr: $SPARK_RUN_DIR/work/<driver id>/ (also over HTTP from the worker's UI).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NAME=spark
SPARK_VERSION=4.2.0
SPARK_MASTER_PORT=${SPARK_MASTER_PORT:-7077}
SPARK_MASTER_WEBUI_PORT=${SPARK_MASTER_WEBUI_PORT:-8080}
SPARK_MASTER_REST_PORT=${SPARK_MASTER_REST_PORT:-6066}
SPARK_WORKER_WEBUI_PORT=${SPARK_WORKER_WEBUI_PORT:-8081}
SPARK_WORKER_CORES=${SPARK_WORKER_CORES:-2}
SPARK_WORKER_MEMORY=${SPARK_WORKER_MEMORY:-1536m}
SPARK_DAEMON_MEMORY=${SPARK_DAEMON_MEMORY:-512m}
SPARK_START_TIMEOUT=${SPARK_START_TIMEOUT:-120}
SPARK_STOP_TIMEOUT=${SPARK_STOP_TIMEOUT:-30}
SPARK_RUN_DIR=${SPARK_RUN_DIR:-$JOBWIRE_RUN_DIR/spark-$SPARK_MASTER_PORT}
LIB_DIR=$JOBWIRE_CACHE_DIR/spark-$SPARK_VERSION/lib
POM=$SERVICES_DIR/spark/pom.xml
PROBE=$SERVICES_DIR/spark-probe.js
MASTER_URL=spark://127.0.0.1:$SPARK_MASTER_PORT
MASTER_UI=http://127.0.0.1:$SPARK_MASTER_WEBUI_PORT
REST_URL=http://127.0.0.1:$SPARK_MASTER_REST_PORT
WORKER_UI=http://127.0.0.1:$SPARK_WORKER_WEBUI_PORT
HOME_DIR=$SPARK_RUN_DIR/home
LOG_DIR=$SPARK_RUN_DIR/logs
WORK_DIR=$SPARK_RUN_DIR/work
LOCAL_DIR=$SPARK_RUN_DIR/local
MASTER_PID_FILE=$SPARK_RUN_DIR/master.pid
WORKER_PID_FILE=$SPARK_RUN_DIR/worker.pid
# What identifies our JVMs' command lines (with the pid files): main class and ports, and for the
# worker its work dir in this run dir (a driver's command line names neither).
MASTER_NEEDLE="org.apache.spark.deploy.master.Master --host 127.0.0.1 --port $SPARK_MASTER_PORT "
WORKER_NEEDLE="--work-dir $WORK_DIR $MASTER_URL"

# What spark-class would add on Java 17: org.apache.spark.launcher.JavaModuleOptions of Spark 4.2.0.
# Drivers and executors launched by the worker get them from Spark itself.
JAVA_MODULE_OPTIONS=(
  -XX:+IgnoreUnrecognizedVMOptions --add-modules=jdk.incubator.vector
  --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.lang.invoke=ALL-UNNAMED
  --add-opens=java.base/java.lang.reflect=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED
  --add-opens=java.base/java.net=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED
  --add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.util.concurrent=ALL-UNNAMED
  --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED --add-opens=java.base/jdk.internal.ref=ALL-UNNAMED
  --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/sun.nio.cs=ALL-UNNAMED
  --add-opens=java.base/sun.security.action=ALL-UNNAMED --add-opens=java.base/sun.util.calendar=ALL-UNNAMED
  --add-opens=java.security.jgss/sun.security.krb5=ALL-UNNAMED
  -Dio.netty.tryReflectionSetAccessible=true -Dio.netty.allocator.type=pooled
  -Dio.netty.handler.ssl.defaultEndpointVerificationAlgorithm=NONE
  --sun-misc-unsafe-memory-access=allow --enable-native-access=ALL-UNNAMED
)

master_pid() { svc_pid_is "$MASTER_PID_FILE" "$MASTER_NEEDLE"; }
worker_pid() { svc_pid_is "$WORKER_PID_FILE" "$WORKER_NEEDLE"; }

probe() { node "$PROBE" "$MASTER_UI" "$REST_URL" "$WORKER_UI" "$@"; }

fetch() { svc_maven_fetch "$NAME" "$POM" "$LIB_DIR"; }

# The environment of both JVMs, inherited by every driver and executor the worker starts.
# SPARK_HOME/jars is where the worker builds their classpath from; without SPARK_SCALA_VERSION the
# launcher looks for a source build's directories and every driver ends in ERROR.
export_spark_env() {
  export SPARK_HOME=$HOME_DIR
  export SPARK_SCALA_VERSION=2.13
  export SPARK_LOCAL_IP=127.0.0.1
  export SPARK_LOCAL_DIRS=$LOCAL_DIR
  export SPARK_LOG_DIR=$LOG_DIR
}

prepare_home() {
  mkdir -p "$HOME_DIR" "$LOG_DIR" "$WORK_DIR" "$LOCAL_DIR"
  # A symlink to the cached jars, replaced when the cache moved (JOBWIRE_CACHE_DIR changed).
  if [ "$(readlink "$HOME_DIR/jars" 2>/dev/null)" != "$LIB_DIR" ]; then
    rm -rf "$HOME_DIR/jars"
    ln -s "$LIB_DIR" "$HOME_DIR/jars"
  fi
  echo "Spark $SPARK_VERSION (Scala 2.13) from Maven Central jars, set up by scripts/services/spark.sh" >"$HOME_DIR/RELEASE"
}

# start_jvm ROLE PID_FILE LOG MAIN_CLASS_AND_ARGS… — detached like kafka.sh's broker: setsid -f gives
# it its own session (it outlives this script and the caller's process group); the shell writes its
# own pid, then becomes java, so the pid file names the JVM. The lock descriptors are closed.
start_jvm() {
  local role=$1 pid_file=$2 log=$3 pid
  shift 3
  rm -f "$pid_file"
  echo "=== $(date -Is) spark.sh up" >>"$log"
  # shellcheck disable=SC2016
  (cd "$SPARK_RUN_DIR" && setsid -f bash -c 'echo $$ >"$0.new" && mv "$0.new" "$0" && exec "$@"' "$pid_file" \
    java -Xmx"$SPARK_DAEMON_MEMORY" -Xms64m -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    "${JAVA_MODULE_OPTIONS[@]}" \
    -cp "$HOME_DIR/jars/*" "$@" >>"$log" 2>&1 </dev/null 8>&- 9>&-)
  for _ in $(seq 1 50); do [ -s "$pid_file" ] && break; sleep 0.1; done
  pid=$(svc_pid_is "$pid_file" "org.apache.spark.deploy") || {
    svc_tail "$NAME" "$log"
    svc_die "$NAME" "the $role did not start"
  }
  svc_log "$NAME" "$role pid $pid"
}

start_master() {
  svc_log "$NAME" "starting the master on $MASTER_URL (UI $MASTER_UI, REST $REST_URL, log $LOG_DIR/master.log)"
  # Only one driver at a time: two cluster-mode drivers on a 2-core worker take both cores and no
  # executor is ever granted (a deadlock); a second driver waits SUBMITTED instead.
  # -Dspark.* properties are read by the master's SparkConf (spark-defaults.conf is not used).
  start_jvm master "$MASTER_PID_FILE" "$LOG_DIR/master.log" \
    -Dspark.master.rest.enabled=true -Dspark.master.rest.port="$SPARK_MASTER_REST_PORT" \
    -Dspark.master.rest.host=127.0.0.1 -Dspark.deploy.maxDrivers=1 \
    org.apache.spark.deploy.master.Master \
    --host 127.0.0.1 --port "$SPARK_MASTER_PORT" --webui-port "$SPARK_MASTER_WEBUI_PORT"
}

start_worker() {
  svc_log "$NAME" "starting a worker ($SPARK_WORKER_CORES cores, $SPARK_WORKER_MEMORY; UI $WORKER_UI, log $LOG_DIR/worker.log)"
  # The work dir keeps every driver's and executor's files and logs: finished applications' dirs are
  # cleaned after a day.
  start_jvm worker "$WORKER_PID_FILE" "$LOG_DIR/worker.log" \
    -Dspark.worker.cleanup.enabled=true -Dspark.worker.cleanup.appDataTtl=86400 \
    org.apache.spark.deploy.worker.Worker \
    --host 127.0.0.1 --cores "$SPARK_WORKER_CORES" --memory "$SPARK_WORKER_MEMORY" \
    --webui-port "$SPARK_WORKER_WEBUI_PORT" --work-dir "$WORK_DIR" "$MASTER_URL"
}

wait_ready() {
  local code=0 started mpid wpid
  started=$(date +%s)
  mpid=$(master_pid || true)
  wpid=$(worker_pid || true)
  svc_log "$NAME" "waiting up to ${SPARK_START_TIMEOUT} s for $MASTER_UI/json/ (ALIVE, a worker) and $REST_URL"
  # pipefail: the pipeline fails with the probe's own exit code.
  # shellcheck disable=SC2086 # the pids are numbers, or absent
  probe "$SPARK_START_TIMEOUT" $mpid $wpid 2>&1 | sed -u "s/^/[$NAME] /" || code=$?
  if [ "$code" != 0 ]; then
    svc_tail "$NAME" "$LOG_DIR/master.log" 30
    svc_tail "$NAME" "$LOG_DIR/worker.log" 30
    case $code in
      2) svc_die "$NAME" "the master or the worker exited while starting (see the logs above)" ;;
      *) svc_die "$NAME" "the cluster was not ready within ${SPARK_START_TIMEOUT} s" ;;
    esac
  fi
  svc_log "$NAME" "ready after $(($(date +%s) - started)) s (master pid ${mpid:-?} RSS $(svc_rss_mb "${mpid:-0}") MB, worker pid ${wpid:-?} RSS $(svc_rss_mb "${wpid:-0}") MB)"
}

# port_free PORT WHAT — die if something listens on PORT.
port_free() {
  if svc_port_open 127.0.0.1 "$1"; then
    svc_die "$NAME" "port $1 ($2) is taken by something not started by these scripts (set $3)"
  fi
}

lock() {
  mkdir -p "$SPARK_RUN_DIR"
  exec 9>"$SPARK_RUN_DIR/spark.lock"
  flock -w 300 9 || svc_die "$NAME" "another spark.sh holds $SPARK_RUN_DIR/spark.lock"
}

up() {
  local mpid wpid
  command -v java >/dev/null || svc_die "$NAME" "java not found (Java 17: apt-get install openjdk-17-jre-headless)"
  command -v node >/dev/null || svc_die "$NAME" "node not found (the readiness probe is a Node script)"
  lock
  mpid=$(master_pid || true)
  wpid=$(worker_pid || true)
  if [ -n "$mpid" ] && [ -n "$wpid" ]; then
    # Ours and alive: they may still be starting (another up); wait like a fresh start.
    svc_log "$NAME" "already running (master pid $mpid, worker pid $wpid)"
    wait_ready
    return 0
  fi
  if [ -z "$mpid" ] && [ -z "$wpid" ]; then
    rm -f "$MASTER_PID_FILE" "$WORKER_PID_FILE"
    if svc_port_open 127.0.0.1 "$SPARK_MASTER_WEBUI_PORT" || svc_port_open 127.0.0.1 "$SPARK_MASTER_REST_PORT"; then
      if probe 5 >/dev/null 2>&1; then
        svc_log "$NAME" "a cluster not started by these scripts already answers on $MASTER_UI and $REST_URL: using it"
        return 0
      fi
    fi
  fi
  # Start what is missing of ours; every port it needs must be free.
  if [ -z "$mpid" ]; then
    port_free "$SPARK_MASTER_PORT" "master" SPARK_MASTER_PORT
    port_free "$SPARK_MASTER_WEBUI_PORT" "master web UI" SPARK_MASTER_WEBUI_PORT
    port_free "$SPARK_MASTER_REST_PORT" "REST submissions" SPARK_MASTER_REST_PORT
  fi
  if [ -z "$wpid" ]; then
    port_free "$SPARK_WORKER_WEBUI_PORT" "worker web UI" SPARK_WORKER_WEBUI_PORT
  fi

  fetch
  prepare_home
  export_spark_env
  if [ -z "$mpid" ]; then start_master; else svc_log "$NAME" "master already running (pid $mpid)"; fi
  if [ -z "$wpid" ]; then start_worker; else svc_log "$NAME" "worker already running (pid $wpid)"; fi
  wait_ready
}

down() {
  local mpid wpid
  lock
  mpid=$(master_pid || true)
  wpid=$(worker_pid || true)
  if [ -z "$mpid" ] && [ -z "$wpid" ]; then
    rm -f "$MASTER_PID_FILE" "$WORKER_PID_FILE"
    if svc_port_open 127.0.0.1 "$SPARK_MASTER_WEBUI_PORT"; then
      svc_log "$NAME" "not started by these scripts; something else listens on $MASTER_UI: left alone"
    else
      svc_log "$NAME" "not running"
    fi
    return 0
  fi
  # The worker first: on SIGTERM it kills the drivers and executors it launched.
  if [ -n "$wpid" ]; then
    svc_log "$NAME" "stopping the worker, pid $wpid (SIGTERM, SIGKILL after ${SPARK_STOP_TIMEOUT} s)"
    svc_stop_pid "$NAME" "$wpid" "$SPARK_STOP_TIMEOUT"
  fi
  rm -f "$WORKER_PID_FILE"
  if [ -n "$mpid" ]; then
    svc_log "$NAME" "stopping the master, pid $mpid (SIGTERM, SIGKILL after ${SPARK_STOP_TIMEOUT} s)"
    svc_stop_pid "$NAME" "$mpid" "$SPARK_STOP_TIMEOUT"
  fi
  rm -f "$MASTER_PID_FILE"
  svc_log "$NAME" "stopped"
}

status() {
  local mpid wpid
  mpid=$(master_pid || true)
  wpid=$(worker_pid || true)
  if [ -n "$mpid" ] || [ -n "$wpid" ]; then
    if [ -n "$mpid" ] && [ -n "$wpid" ] && probe 0 >/dev/null 2>&1; then
      svc_log "$NAME" "up on $MASTER_URL (UI $MASTER_UI, REST $REST_URL, worker UI $WORKER_UI; master pid $mpid RSS $(svc_rss_mb "$mpid") MB, worker pid $wpid RSS $(svc_rss_mb "$wpid") MB)"
      return 0
    fi
    svc_log "$NAME" "master pid ${mpid:-(none)}, worker pid ${wpid:-(none)}, but the cluster is not ready (starting, or stuck: see $LOG_DIR)"
    return 1
  fi
  if probe 0 >/dev/null 2>&1; then
    svc_log "$NAME" "up on $MASTER_UI and $REST_URL (not started by these scripts)"
    return 0
  fi
  svc_log "$NAME" "down (npm run services:up)"
  return 1
}

case "${1:-}" in
  fetch) fetch ;;
  up) up ;;
  down) down ;;
  status) status ;;
  *)
    echo "usage: $0 fetch|up|down|status" >&2
    exit 2
    ;;
esac
