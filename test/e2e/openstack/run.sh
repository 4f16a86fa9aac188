#!/usr/bin/env bash
# npm run test:openstack — the real-OpenStack end-to-end suite:
#   1. lab-up.sh: installs the Debian packages if needed, starts (or reuses) the lab;
#   2. builds cmpha and runs the Nova contract (lab and simulator) and the failover scenarios, one file at a time;
#   3. lab-down.sh: stops every lab process and removes the namespaces (packages and databases are kept, so the
#      next run starts in about a minute). CMPHA_LAB_KEEP=1 leaves the lab running.
# Needs root. Heavy: about 2 GiB of memory and both cores for several minutes; run one copy at a time.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
cd "$repo"
# shellcheck source=lib/lab-env.sh
source "$here/lib/lab-env.sh"
[[ $EUID -eq 0 ]] || die "run as root (the lab creates namespaces and installs packages)"

exec 8> /run/cmpha-lab.lock
flock -n 8 || die "another run of the OpenStack lab suite is in progress"

teardown() {
  local rc=$?
  if [[ ${CMPHA_LAB_KEEP:-0} == 1 ]]; then log "CMPHA_LAB_KEEP=1: the lab keeps running ($LAB_DIR)"; else bash "$here/lab-down.sh" || rc=1; fi
  exit "$rc"
}
trap teardown EXIT

t0=$(date +%s)
bash "$here/lab-up.sh"
npm run build --silent
files=(contract.lab.ts contract-sim.lab.ts failover.lab.ts failover-sim.lab.ts agent-down.lab.ts agent-heal.lab.ts evacuate-early.lab.ts bmc-password.lab.ts server-states.lab.ts instance-monitor.lab.ts disarm.lab.ts repaired-host.lab.ts)
rc=0
for f in "${files[@]}"; do
  log "=== $f"
  npx vitest run --config "$here/vitest.config.ts" "test/e2e/openstack/$f" || rc=1
done
node "$here/lib/summary.mjs" "$LAB_DIR/state" || true
log "suite took $(($(date +%s) - t0)) s"
exit "$rc"
