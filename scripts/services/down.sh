#!/usr/bin/env bash
# npm run services:down — stop the local services that these scripts started, in the reverse order
# of up.sh; a service that is not running, or that something else started, is left alone (exit 0).
# Every service is asked to stop even if one fails; the exit code is non-zero if any failed.
#   JOBWIRE_SERVICES  services, in start order               [kafka]
set -uo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
read -r -a services <<<"${JOBWIRE_SERVICES:-kafka}"
status=0
for ((i = ${#services[@]} - 1; i >= 0; i--)); do
  bash "$dir/${services[i]}.sh" down || status=1
done
exit "$status"
