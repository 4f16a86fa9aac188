#!/usr/bin/env bash
# bash bench/lab-failover.sh [--runs 3] [--kinds power-off,hang] [--json out.json]
# Brings the real-OpenStack lab up (installing it on first use, as `npm run test:openstack` does), builds cmpha,
# runs bench/lab-failover.ts and takes the lab down again (CMPHA_LAB_KEEP=1 leaves it running). Needs root.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
lab=$repo/test/e2e/openstack
cd "$repo"
[[ $EUID -eq 0 ]] || { echo "lab-failover: run as root (the lab creates namespaces)" >&2; exit 1; }
exec 8> /run/cmpha-lab.lock
# The lab is shared: wait for the run before this one (as the lab test files do), at most 25 minutes.
flock -w 1500 8 || { echo "lab-failover: another run against the OpenStack lab held the lock for 25 minutes" >&2; exit 1; }
teardown() {
  local rc=$?
  if [[ ${CMPHA_LAB_KEEP:-0} != 1 ]]; then bash "$lab/lab-down.sh" || rc=1; fi
  exit "$rc"
}
trap teardown EXIT
bash "$lab/lab-up.sh"
npm run build --silent
npx tsx bench/lab-failover.ts "$@"
