#!/usr/bin/env bash
# npm run services:up — start every local service the tests need, each idempotently (a service
# already answering is left as it is), and wait until each accepts clients. Exits non-zero at the
# first service that fails to start, after printing why.
#   JOBWIRE_SERVICES  services to start, in order            [kafka]
# Each service is scripts/services/<name>.sh with fetch|up|down|status; see kafka.sh for its variables.
set -euo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
for svc in ${JOBWIRE_SERVICES:-kafka}; do
  bash "$dir/$svc.sh" up
done
