#!/usr/bin/env bash
# npm run build:spark — build jobwire's Spark application (spark/: IngestApp and JobwireListener in
# one shaded jar) and link it at dist/spark/jobwire-spark.jar; prints that path (stdout, last line).
#
# The jar is cached by the content hash of spark/pom.xml and every file under spark/src:
# $JOBWIRE_CACHE_DIR/spark-app/<hash>/jobwire-spark.jar. An unchanged module is not built again
# (even from another checkout or a fresh clone on this machine); a changed one is built by Maven
# (about a minute the first time, when Maven downloads its plugins; 15-30 s after that) in a
# directory outside the repository, so no build output lands in git.
#
# Variables: JOBWIRE_CACHE_DIR, JOBWIRE_M2_REPO (the Maven local repository, shared with the
# services' jars so Spark's own jars are downloaded once): see scripts/services/lib.sh.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=services/lib.sh
source "$root/scripts/services/lib.sh"
NAME=build:spark
module=$root/spark
repo=${JOBWIRE_M2_REPO:-$JOBWIRE_CACHE_DIR/m2}

# The hash covers file names and contents, in a stable order.
hash=$(cd "$module" && { echo pom.xml; find src -type f | LC_ALL=C sort; } | while read -r f; do
  printf '%s\0' "$f"
  cat "$f"
done | sha256sum | cut -c1-16)
cached=$JOBWIRE_CACHE_DIR/spark-app/$hash/jobwire-spark.jar

if [ -s "$cached" ]; then
  svc_log "$NAME" "unchanged since the last build: using $cached" >&2
else
  command -v mvn >/dev/null || svc_die "$NAME" "mvn not found (apt-get install maven)"
  mkdir -p "$(dirname "$cached")"
  # Two builds of the same sources at once (two checkouts): one builds, the other waits and reuses.
  exec 8>"$(dirname "$cached").lock"
  flock -w 600 8 || svc_die "$NAME" "timed out waiting for another build of $hash"
  if [ ! -s "$cached" ]; then
    build_dir=$(mktemp -d "$JOBWIRE_CACHE_DIR/spark-app/build-$hash.XXXXXX")
    trap 'rm -rf "$build_dir"' EXIT
    svc_log "$NAME" "building $module (Maven, output in $build_dir)" >&2
    started=$(date +%s)
    # C1-only JIT: Maven's short run starts faster on a small machine (as for the services' jars).
    if ! MAVEN_OPTS=${MAVEN_OPTS:--XX:TieredStopAtLevel=1 -XX:+UseSerialGC} mvn -q -B -Dstyle.color=never \
      -f "$module/pom.xml" -Dmaven.repo.local="$repo" -Djobwire.build.dir="$build_dir" package \
      >"$build_dir/mvn.log" 2>&1 </dev/null; then
      svc_tail "$NAME" "$build_dir/mvn.log" 60
      svc_die "$NAME" "the Maven build of $module failed (see above)"
    fi
    cp "$build_dir/jobwire-spark.jar" "$cached.tmp"
    mv "$cached.tmp" "$cached"
    svc_log "$NAME" "built $cached ($(du -h "$cached" | cut -f1)) in $(($(date +%s) - started)) s" >&2
  fi
  exec 8>&-
fi

mkdir -p "$root/dist/spark"
ln -sfn "$cached" "$root/dist/spark/jobwire-spark.jar"
echo "$root/dist/spark/jobwire-spark.jar"
