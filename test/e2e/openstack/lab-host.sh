#!/usr/bin/env bash
# One lab "host" = a nova-compute process + a network namespace (management IP and its servers' fixed IPs)
# + an ipmi_sim BMC. This script is what the BMC's power hook, the Neutron driver and the tests call.
#
#   lab-host.sh power-off HOST | power-on HOST | power-status HOST
#   lab-host.sh compute-stop HOST [SIGNAL] | compute-start HOST
#   lab-host.sh links-down HOST | links-up HOST
#   lab-host.sh net-up HOST | net-down HOST
#   lab-host.sh addr-move HOST IP...   (a port bound to HOST: its IPs live in HOST's namespace only)
#   lab-host.sh addr-del IP...
set -euo pipefail
# shellcheck source=lib/lab-env.sh
source "$(dirname "$0")/lib/lab-env.sh"

known_host() {
  local h
  for h in "${LAB_HOSTS[@]}"; do [[ $h == "$1" ]] && return 0; done
  die "unknown lab host '$1' (known: ${LAB_HOSTS[*]})"
}

power_file() { echo "$LAB_DIR/hosts/$1/power"; }

with_host_lock() { # serialises power work per host: a power-on right after a power-off waits for it
  local host=$1; shift
  mkdir -p "$LAB_DIR/hosts/$host"
  exec 9> "$LAB_DIR/hosts/$host/lock"
  flock 9
  "$@"
}

compute_start() {
  local host=$1
  start_bg "nova-compute-$host" "$PY" "$LAB_SRC/lib/nova-compute.py" \
    --config-file "$ETC/nova/nova.conf" --config-file "$ETC/nova/compute-$host.conf"
}

compute_stop() { stop_pid "nova-compute-$1" "${2:-TERM}" 30; }

links() { # links HOST up|down: both ends of the host's veth
  local host=$1 state=$2 ns veth
  ns=$(ns_of "$host"); veth=$(veth_of "$host")
  ip -n "$ns" link set eth0 "$state" 2>/dev/null || true
  ip link set "$veth" "$state" 2>/dev/null || true
}

net_up() {
  local host=$1 ns veth
  ns=$(ns_of "$host"); veth=$(veth_of "$host")
  if ! ip link show "$LAB_BRIDGE" > /dev/null 2>&1; then
    ip link add "$LAB_BRIDGE" type bridge
    ip addr add "$LAB_BRIDGE_IP/$LAB_PREFIX" dev "$LAB_BRIDGE"
    ip link set "$LAB_BRIDGE" up
  fi
  # An address of the range that has no namespace fails at once instead of leaving the machine.
  ip route replace unreachable 198.18.0.0/15 metric 9999
  ip netns list | grep -qx "$ns\( .*\)\?" || ip netns add "$ns"
  if ! ip link show "$veth" > /dev/null 2>&1; then
    ip link add "$veth" type veth peer name eth0 netns "$ns"
    ip link set "$veth" master "$LAB_BRIDGE"
  fi
  ip -n "$ns" addr replace "${LAB_MGMT_IP[$host]}/$LAB_PREFIX" dev eth0
  ip -n "$ns" link set lo up
  links "$host" up
}

net_down() {
  local host=$1 ns veth
  ns=$(ns_of "$host"); veth=$(veth_of "$host")
  ip link del "$veth" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
}

power_off_work() {
  # A power cut: no graceful shutdown, the agent and every address vanish.
  compute_stop "$1" KILL
  links "$1" down
}

power_on_work() {
  links "$1" up
  compute_start "$1"
}

addr_move() {
  local host=$1 ip h; shift
  [[ -n "${LAB_MGMT_IP[$host]:-}" ]] || { log "addr-move: $host is not a lab host, addresses left alone"; return 0; }
  for ip in "$@"; do
    for h in "${LAB_HOSTS[@]}"; do
      [[ $h == "$host" ]] && continue
      ip -n "$(ns_of "$h")" addr del "$ip/32" dev eth0 2>/dev/null || true
    done
    ip -n "$(ns_of "$host")" addr replace "$ip/32" dev eth0
    # The controller's neighbour cache still points at the old host's MAC.
    ip neigh flush to "$ip" 2>/dev/null || true
  done
}

addr_del() {
  local ip h
  for ip in "$@"; do
    for h in "${LAB_HOSTS[@]}"; do ip -n "$(ns_of "$h")" addr del "$ip/32" dev eth0 2>/dev/null || true; done
    ip neigh flush to "$ip" 2>/dev/null || true
  done
}

cmd=${1:-}; shift || true
case "$cmd" in
  power-off)
    known_host "$1"; mkdir -p "$LAB_DIR/hosts/$1"; echo 0 > "$(power_file "$1")"
    with_host_lock "$1" power_off_work "$1" ;;
  power-on)
    known_host "$1"; mkdir -p "$LAB_DIR/hosts/$1"; echo 1 > "$(power_file "$1")"
    with_host_lock "$1" power_on_work "$1" ;;
  power-status)
    known_host "$1"; [[ "$(cat "$(power_file "$1")" 2>/dev/null || echo 1)" == 0 ]] && echo off || echo on ;;
  compute-start) known_host "$1"; compute_start "$1" ;;
  compute-stop) known_host "$1"; compute_stop "$1" "${2:-TERM}" ;;
  links-down) known_host "$1"; links "$1" down ;;
  links-up) known_host "$1"; links "$1" up ;;
  net-up) known_host "$1"; net_up "$1" ;;
  net-down) known_host "$1"; net_down "$1" ;;
  addr-move) addr_move "$@" ;;
  addr-del) addr_del "$@" ;;
  *) die "usage: lab-host.sh power-off|power-on|power-status|compute-start|compute-stop|links-down|links-up|net-up|net-down|addr-move|addr-del ..." ;;
esac
