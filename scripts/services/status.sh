#!/usr/bin/env bash
# npm run services:status [-- NAME…] — one line per local service (default: all); exits 0 only when
# every one answers clients (so `status.sh || up.sh` starts what is missing).
#   JOBWIRE_SERVICES  the default list, when no name is given                       [kafka spark]
set -uo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=services.sh
source "$dir/services.sh"
list=$(services_from_args "$@") || exit 2
read -r -a services <<<"$list"
status=0
for svc in "${services[@]}"; do
  bash "$dir/$svc.sh" status || status=1
done
exit "$status"
