#!/usr/bin/env bash
# Stops exactly the processes lab-up.sh started (by the pids it recorded), removes the hosts' namespaces, the
# bridge and the BMCs. Keeps the installed packages and, unless --purge, the lab's databases and config, so the
# next lab-up.sh starts in about a minute.
#
#   lab-down.sh            stop everything, keep state (databases, config, credentials)
#   lab-down.sh --purge    also delete $CMPHA_LAB_DIR
#   lab-down.sh --purge --remove-packages   also remove the packages lab-up.sh installed
set -euo pipefail
# shellcheck source=lib/lab-env.sh
source "$(dirname "$0")/lib/lab-env.sh"
[[ $EUID -eq 0 ]] || die "run as root"

purge=false remove_packages=false
for a in "$@"; do
  case "$a" in
    --purge) purge=true ;;
    --remove-packages) remove_packages=true ;;
    --keep-packages) remove_packages=false ;;
    *) die "unknown option '$a' (--purge, --remove-packages, --keep-packages)" ;;
  esac
done

# Computes first (they would log errors about the vanished broker), the broker and database last.
order=()
for h in "${LAB_HOSTS[@]}"; do order+=("nova-compute-$h" "bmc-$h"); done
order+=(nova-api nova-scheduler nova-conductor neutron-server glance-api placement keystone rabbitmq epmd mariadb)
for name in "${order[@]}"; do stop_pid "$name"; done
# Anything else recorded (a pid file of a service this list does not know yet).
for f in "$RUN"/*.pid; do
  [[ -e $f ]] || continue
  stop_pid "$(basename "$f" .pid)"
done

for h in "${LAB_HOSTS[@]}"; do "$LAB_SRC/lab-host.sh" net-down "$h"; done
ip link del "$LAB_BRIDGE" 2> /dev/null || true
ip route del unreachable 198.18.0.0/15 metric 9999 2> /dev/null || true
log "lab stopped"

if $purge; then
  rm -rf "$LAB_DIR"
  log "removed $LAB_DIR"
fi
if $remove_packages; then
  DEBIAN_FRONTEND=noninteractive apt-get purge -y -q mariadb-server rabbitmq-server keystone glance placement-api nova-api \
    nova-conductor nova-scheduler neutron-server python3-openstackclient python3-nova > /dev/null
  DEBIAN_FRONTEND=noninteractive apt-get autoremove -y -q > /dev/null
  log "packages removed"
fi
