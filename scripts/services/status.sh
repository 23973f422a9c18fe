#!/usr/bin/env bash
# npm run services:status — one line per local service; exits 0 only when every one answers
# clients (so `status.sh || up.sh` starts what is missing).
#   JOBWIRE_SERVICES  services to check                       [kafka]
set -uo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
status=0
for svc in ${JOBWIRE_SERVICES:-kafka}; do
  bash "$dir/$svc.sh" status || status=1
done
exit "$status"
