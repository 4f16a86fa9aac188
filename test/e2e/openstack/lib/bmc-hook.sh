#!/usr/bin/env bash
# ipmi_sim chassis_control hook: "bmc-hook.sh HOST get power" | "HOST set power 0|1" | "HOST set reset 1" |
# "HOST set shutdown 1". ipmi_sim resends a request whose hook is slow, so the power state file changes at
# once and the slow part (killing nova-compute, links down, starting it again) runs detached.
set -u
# ipmi_sim's own descriptors (its UDP socket among them) must not live on in the nova-compute started from here.
for fd in /proc/$$/fd/*; do
  fd=${fd##*/}
  if ((fd > 2)); then eval "exec $fd>&-" 2> /dev/null; fi
done
dir=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lab-env.sh
source "$dir/lib/lab-env.sh"
host=$1; shift
state_file=$LAB_DIR/hosts/$host/power
echo "$(date +%s.%N) $*" >> "$LAB_DIR/hosts/$host/bmc-calls.log"
state=$(cat "$state_file" 2>/dev/null || echo 1)
detached() { setsid "$dir/lab-host.sh" "$@" >> "$LOG/power-$host.log" 2>&1 < /dev/null & }
case "$1 $2" in
  "get power") echo "power:$state" ;;
  "set power")
    if [[ $3 == 0 && $state == 1 ]]; then echo 0 > "$state_file"; detached power-off "$host"; fi
    if [[ $3 == 1 && $state == 0 ]]; then echo 1 > "$state_file"; detached power-on "$host"; fi ;;
  "set shutdown")
    if [[ $state == 1 ]]; then echo 0 > "$state_file"; detached power-off "$host"; fi ;;
  "set reset")
    if [[ $state == 1 ]]; then detached power-off "$host"; fi
    setsid bash -c "sleep 1; '$dir/lab-host.sh' power-on '$host'" >> "$LOG/power-$host.log" 2>&1 < /dev/null & ;;
esac
exit 0
