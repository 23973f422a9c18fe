# shellcheck shell=bash
# Which services up.sh, down.sh and status.sh act on (sourced, never run).

# The services these scripts know, in start order: scripts/services/<name>.sh for each.
KNOWN_SERVICES="kafka spark"

# services_from_args [NAME…] — prints the services named (each checked), or JOBWIRE_SERVICES, or
# every known one. An unknown name: a message on stderr and exit status 2.
services_from_args() {
  local list svc
  if [ "$#" -gt 0 ]; then list="$*"; else list=${JOBWIRE_SERVICES:-$KNOWN_SERVICES}; fi
  for svc in $list; do
    if [[ " $KNOWN_SERVICES " != *" $svc "* ]]; then
      echo "unknown service '$svc' (known: $KNOWN_SERVICES)" >&2
      return 2
    fi
  done
  echo "$list"
}
