# shellcheck shell=bash
# Helpers shared by the scripts in scripts/services/ (sourced, never run). Each service script
# (kafka.sh, spark.sh) implements `fetch`, `up`, `down` and `status` with these.
#
# Variables (read here, used by every service):
#   JOBWIRE_CACHE_DIR  downloaded jars and the Maven local repository     default ~/.cache/jobwire
#   JOBWIRE_RUN_DIR    runtime state of the services: data, logs, pids    default ~/.cache/jobwire/run
# Both live outside the repository, so fresh clones (CI) on this machine reuse the jars, and no
# broker data or log ever ends up in git.

JOBWIRE_CACHE_DIR=${JOBWIRE_CACHE_DIR:-$HOME/.cache/jobwire}
JOBWIRE_RUN_DIR=${JOBWIRE_RUN_DIR:-$HOME/.cache/jobwire/run}
# shellcheck disable=SC2034 # used by the scripts that source this file
SERVICES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# svc_log NAME MESSAGE… — one progress line, prefixed by the service's name.
svc_log() {
  local name=$1
  shift
  echo "[$name] $*"
}

# svc_die NAME MESSAGE… — print to stderr and exit 1.
svc_die() {
  local name=$1
  shift
  echo "[$name] error: $*" >&2
  exit 1
}

# svc_port_open HOST PORT — true when something accepts TCP connections there (1 s at most).
svc_port_open() {
  # shellcheck disable=SC2016 # $0 and $1 are the inner shell's arguments
  timeout 1 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

# svc_pid_is PIDFILE NEEDLE — prints the pid and succeeds when PIDFILE names a live process whose
# command line contains NEEDLE (so a recycled pid is never taken for ours).
svc_pid_is() {
  local pid cmd
  [ -s "$1" ] || return 1
  pid=$(<"$1")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $cmd == *"$2"* ]] || return 1
  echo "$pid"
}

# svc_stop_pid NAME PID TIMEOUT_S — SIGTERM, wait up to TIMEOUT_S, then SIGKILL.
svc_stop_pid() {
  local name=$1 pid=$2 timeout_s=$3 waited=0
  kill -TERM "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$waited" -ge "$timeout_s" ]; then
      svc_log "$name" "still running after ${timeout_s} s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 1
    waited=$((waited + 1))
  done
  # SIGKILL is asynchronous: wait until the pid is really gone (a few seconds at most).
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
}

# svc_rss_mb PID — resident memory of PID in MB.
svc_rss_mb() {
  local kb
  kb=$(ps -o rss= -p "$1" 2>/dev/null | tr -d ' ')
  echo $(((${kb:-0} + 512) / 1024))
}

# svc_tail NAME FILE [LINES] — the end of a log, for failure messages.
svc_tail() {
  local name=$1 file=$2 lines=${3:-40}
  if [ -s "$file" ]; then
    echo "[$name] --- last $lines lines of $file ---" >&2
    tail -n "$lines" "$file" >&2
    echo "[$name] ---" >&2
  else
    echo "[$name] ($file is empty or missing)" >&2
  fi
}

# svc_maven_fetch NAME POM DEST_DIR — copy POM's dependency jars into DEST_DIR with Maven, unless
# DEST_DIR is already complete for this exact POM. Completion is a stamp file holding the POM's
# SHA-256, written last: an interrupted download (no stamp, or another POM's) is started over.
# Serialised with a lock, so two checkouts starting at once download once.
# The Maven local repository is JOBWIRE_M2_REPO (default $JOBWIRE_CACHE_DIR/m2, kept apart from ~/.m2
# so that removing $JOBWIRE_CACHE_DIR really starts from nothing).
svc_maven_fetch() {
  local name=$1 pom=$2 dest=$3 stamp="$3.stamp" hash started
  local repo=${JOBWIRE_M2_REPO:-$JOBWIRE_CACHE_DIR/m2}
  hash=$(sha256sum "$pom" | cut -d' ' -f1)
  mkdir -p "$(dirname "$dest")"
  exec 8>"$dest.lock"
  flock -w 600 8 || svc_die "$name" "timed out waiting for another download into $dest"
  if [ -d "$dest" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$hash" ]; then
    exec 8>&-
    return 0
  fi
  command -v mvn >/dev/null || svc_die "$name" "mvn not found (apt-get install maven)"
  svc_log "$name" "downloading jars from Maven Central into $dest (first run only; about a minute)"
  started=$(date +%s)
  rm -rf "$dest" "$stamp"
  # C1-only JIT: Maven's short run starts faster on a small machine. Its output goes to a file
  # (shown on failure): even with -q it prints terminal escape codes.
  if ! MAVEN_OPTS=${MAVEN_OPTS:--XX:TieredStopAtLevel=1 -XX:+UseSerialGC} mvn -q -B -Dstyle.color=never -f "$pom" \
    -Dmaven.repo.local="$repo" dependency:copy-dependencies -DoutputDirectory="$dest" >"$dest.mvn.log" 2>&1 </dev/null; then
    rm -rf "$dest"
    svc_tail "$name" "$dest.mvn.log"
    svc_die "$name" "Maven could not fetch the jars of $pom (is Maven Central reachable?)"
  fi
  echo "$hash" >"$stamp"
  svc_log "$name" "$(find "$dest" -name '*.jar' | wc -l) jars, $(du -sh "$dest" | cut -f1) in $(($(date +%s) - started)) s"
  exec 8>&-
}
