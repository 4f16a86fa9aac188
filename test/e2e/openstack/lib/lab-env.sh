# Shared settings and helpers of the OpenStack lab scripts. Sourced, never run.
# Every value may be overridden from the environment before the scripts run.

LAB_DIR=${CMPHA_LAB_DIR:-/var/lib/cmpha-lab}
LAB_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Debian's interpreter: the python3 first on PATH may be another one without the OpenStack modules.
PY=/usr/bin/python3

# Nova's own defaults; tests that need faster liveness lower them explicitly.
LAB_REPORT_INTERVAL=${CMPHA_LAB_REPORT_INTERVAL:-10}
LAB_SERVICE_DOWN_TIME=${CMPHA_LAB_SERVICE_DOWN_TIME:-60}

LAB_HOSTS=(compute1 compute2 spare1)
LAB_SPARE=spare1
# 198.19.128.0/20 is kept apart from the 198.18.x addresses the project's other tests use.
LAB_BRIDGE=cmphalab-br
LAB_BRIDGE_IP=198.19.128.1
LAB_PREFIX=20
LAB_SUBNET_CIDR=198.19.136.0/24
LAB_SUBNET_POOL_START=198.19.136.10
LAB_SUBNET_POOL_END=198.19.136.250
declare -A LAB_MGMT_IP=([compute1]=198.19.128.11 [compute2]=198.19.128.12 [spare1]=198.19.128.13)
declare -A LAB_BMC_PORT=([compute1]=16231 [compute2]=16232 [spare1]=16233)

PORT_KEYSTONE=5000
PORT_GLANCE=9292
PORT_PLACEMENT=8778
PORT_NOVA=8774
PORT_NEUTRON=9696
PORT_MYSQL=${CMPHA_LAB_MYSQL_PORT:-3306}
PORT_RABBIT=${CMPHA_LAB_RABBIT_PORT:-5672}
PORT_RABBIT_DIST=${CMPHA_LAB_RABBIT_DIST_PORT:-25672}
# Not 4369: an epmd that package scripts or other Erlang programs started may hold it, on every address.
PORT_EPMD=${CMPHA_LAB_EPMD_PORT:-14369}

RUN=$LAB_DIR/run
LOG=$LAB_DIR/log
ETC=$LAB_DIR/etc

ns_of() { echo "cmphalab-$1"; }
veth_of() { echo "clab-$1"; }

log() { printf '%s lab: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# A pid file holds "PID STARTTIME" so a recycled pid is never taken for ours.
proc_start_time() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null; }

pid_of() {
  local f=$RUN/$1.pid pid start
  [[ -f $f ]] || return 1
  read -r pid start < "$f" || return 1
  [[ -n $pid && -d /proc/$pid ]] || return 1
  [[ "$(proc_start_time "$pid")" == "$start" ]] || return 1
  # A zombie is not running.
  [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]] || return 1
  echo "$pid"
}

is_running() { pid_of "$1" >/dev/null; }

record_pid() { echo "$2 $(proc_start_time "$2")" > "$RUN/$1.pid"; }

# start_bg NAME CMD...: starts CMD in its own session in the background, unless NAME already runs.
start_bg() {
  local name=$1; shift
  if is_running "$name"; then return 0; fi
  mkdir -p "$RUN" "$LOG"
  # No descriptor but stdio is inherited: fd 9 is a per-host power lock (lab-host.sh), fd 8 the whole suite's
  # lock (run.sh), and `flock FILE CMD` (without -o) hands its lock to CMD on fd 3; a daemon inheriting any of
  # them would hold that lock for its lifetime (a kept lab would refuse every later run).
  (
    for fd in /proc/self/fd/*; do
      fd=${fd##*/}
      if ((fd > 2)); then eval "exec $fd>&-" 2> /dev/null || true; fi
    done
    exec setsid "$@" >> "$LOG/$name.log" 2>&1 < /dev/null
  ) &
  local pid=$!
  # setsid execs in place, but give the kernel a moment so /proc shows the final program.
  sleep 0.05
  record_pid "$name" "$pid"
  LAB_STARTED=$((${LAB_STARTED:-0} + 1))
  log "started $name (pid $pid)"
}

descendants() {
  local pid=$1 child
  for child in $(awk -v p="$pid" '$4 == p {print $1}' /proc/[0-9]*/stat 2>/dev/null); do
    echo "$child"
    descendants "$child"
  done
}

# stop_pid NAME [SIGNAL] [GRACE_SECONDS]: stops the recorded process and, after the grace time, its descendants.
stop_pid() {
  local name=$1 sig=${2:-TERM} grace=${3:-20} pid kids i
  if ! pid=$(pid_of "$name"); then rm -f "$RUN/$name.pid"; return 0; fi
  kids=$(descendants "$pid")
  kill "-$sig" "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do
    [[ -d /proc/$pid ]] || break
    [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" == Z ]] && break
    sleep 0.1
  done
  if [[ -d /proc/$pid ]]; then kill -KILL "$pid" 2>/dev/null || true; fi
  for k in $kids; do
    if [[ -d /proc/$k ]]; then kill -KILL "$k" 2>/dev/null || true; fi
  done
  rm -f "$RUN/$name.pid"
  log "stopped $name (pid $pid)"
}

wait_for() { # wait_for SECONDS DESCRIPTION CMD...
  local secs=$1 what=$2 i; shift 2
  for ((i = 0; i < secs * 4; i++)); do
    if "$@" > /dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  die "timed out after ${secs}s waiting for $what"
}

http_ok() { curl -s -o /dev/null --max-time 3 "$1"; }

load_passwords() {
  # shellcheck disable=SC1091
  source "$ETC/passwords.env"
}
