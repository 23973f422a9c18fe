#!/usr/bin/env bash
# npm run services:down [-- NAME…] — stop the local services that these scripts started (default:
# all, in the reverse order of up.sh's list); a service that is not running, or that something else
# started, is left alone (exit 0). Every service is asked to stop even if one fails; the exit code is
# non-zero if any failed.
#   JOBWIRE_SERVICES  the default list, when no name is given                       [kafka spark]
set -uo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=services.sh
source "$dir/services.sh"
list=$(services_from_args "$@") || exit 2
read -r -a services <<<"$list"
status=0
for ((i = ${#services[@]} - 1; i >= 0; i--)); do
  bash "$dir/${services[i]}.sh" down || status=1
done
exit "$status"
