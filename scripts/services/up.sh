#!/usr/bin/env bash
# npm run services:up [-- NAME…] — start the local services the tests need (default: all of them,
# Kafka and Spark), each idempotently (a service already answering is left as it is), in parallel,
# and wait until each accepts clients. Exits non-zero, naming them, if any failed to start (each
# prints why: its error and the end of its log).
#   npm run services:up -- kafka     only the broker
#   JOBWIRE_SERVICES                 the default list, when no name is given       [kafka spark]
# Each service is scripts/services/<name>.sh with fetch|up|down|status; see it for its variables.
set -uo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=services.sh
source "$dir/services.sh"
list=$(services_from_args "$@") || exit 2
read -r -a services <<<"$list"

started=$(date +%s)
declare -A pids
for svc in "${services[@]}"; do
  bash "$dir/$svc.sh" up &
  pids[$svc]=$!
done
failed=()
for svc in "${services[@]}"; do
  wait "${pids[$svc]}" || failed+=("$svc")
done
if [ "${#failed[@]}" != 0 ]; then
  echo "services:up: ${failed[*]} did not start (see above)" >&2
  exit 1
fi
echo "services:up: ${services[*]} up after $(($(date +%s) - started)) s"
