#!/usr/bin/env bash
# Brings up an all-in-one OpenStack Zed control plane from Debian 12's packages on 127.0.0.1, with three
# nova-compute processes on Nova's fake virt driver (compute1, compute2, spare1), each standing in for a host
# with a network namespace and an ipmi_sim BMC. Idempotent: a second run reuses what is installed, configured
# and running. State, config and logs live in $CMPHA_LAB_DIR (default /var/lib/cmpha-lab).
#
# Environment: CMPHA_LAB_DIR, CMPHA_LAB_REPORT_INTERVAL (10), CMPHA_LAB_SERVICE_DOWN_TIME (60).
# A change of either interval restarts the Nova services that read it.
set -euo pipefail
# shellcheck source=lib/lab-env.sh
source "$(dirname "$0")/lib/lab-env.sh"

[[ $EUID -eq 0 ]] || die "run as root (namespaces, package install, service users)"
T0=$(date +%s.%N)
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

PACKAGES=(mariadb-server rabbitmq-server keystone glance placement-api nova-api nova-conductor nova-scheduler
  neutron-server python3-openstackclient python3-nova uwsgi-core uwsgi-plugin-python3
  ipmitool openipmi fping iproute2 curl util-linux)

mkdir -p "$LAB_DIR" "$RUN" "$LOG" "$ETC" "$LAB_DIR/state"
chmod 700 "$LAB_DIR"
STATE=$LAB_DIR/state
stamp() { touch "$STATE/$1.done"; }
stamped() { [[ -f $STATE/$1.done ]]; }

# ---------------------------------------------------------------- packages
install_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then log "packages already installed"; return 0; fi
  # Package scripts must not start daemons: they would listen on 0.0.0.0 with Debian's stock config.
  if [[ ! -x /usr/sbin/policy-rc.d ]]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; fi
  log "installing ${#missing[@]} packages: ${missing[*]}"
  local t
  t=$(date +%s.%N)
  DEBIAN_FRONTEND=noninteractive apt-get update -q > "$LOG/apt-update.log" 2>&1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" > "$LOG/apt-install.log" 2>&1 \
    || { tail -20 "$LOG/apt-install.log" >&2; die "apt-get install failed (log: $LOG/apt-install.log)"; }
  echo "install_seconds=$(elapsed "$t")" > "$STATE/install.env"
  stop_install_epmd "$t"
  log "packages installed in $(elapsed "$t") s"
}

# Package scripts that run rabbitmqctl leave an epmd daemon behind, listening on every address. It is a
# child of this install, so this run stops it, by pid: only an epmd of the rabbitmq user born during the install.
stop_install_epmd() {
  local since=$1 pid boot_s hz started
  boot_s=$(awk '{print $1}' /proc/uptime); hz=$(getconf CLK_TCK)
  for pid in $(pgrep -x -u rabbitmq epmd || true); do
    started=$(awk -v st="$(proc_start_time "$pid")" -v hz="$hz" -v up="$boot_s" -v now="$(date +%s.%N)" 'BEGIN { printf "%.0f", now - up + st / hz }')
    if ((started >= ${since%.*})); then log "stopping epmd $pid left by the package scripts"; kill "$pid"; fi
  done
}

# ---------------------------------------------------------------- secrets
make_passwords() {
  [[ -f $ETC/passwords.env ]] && return 0
  local f=$ETC/passwords.env
  umask 077
  {
    # BMC passwords are at most 16 characters (IPMI 1.5); hex keeps every value free of quoting trouble.
    echo "DB_PASS=$(openssl rand -hex 12)"
    echo "RABBIT_PASS=$(openssl rand -hex 12)"
    echo "ADMIN_PASS=$(openssl rand -hex 12)"
    echo "SERVICE_PASS=$(openssl rand -hex 12)"
    echo "CMPHA_PASS=$(openssl rand -hex 12)"
    echo "BMC_PASS=$(openssl rand -hex 8)"
  } > "$f"
  umask 022
}

# ---------------------------------------------------------------- config files
declare -A CHANGED=()
# write_conf PATH [MODE]: stdin becomes PATH; records the path when its content changed.
write_conf() {
  local path=$1 mode=${2:-600} tmp
  mkdir -p "$(dirname "$path")"
  tmp=$(mktemp "$path.XXXX")
  cat > "$tmp"
  chmod "$mode" "$tmp"
  if [[ -f $path ]] && cmp -s "$tmp" "$path"; then rm -f "$tmp"; return 0; fi
  mv "$tmp" "$path"
  CHANGED[$path]=1
}

authtoken() { # authtoken USER: the [keystone_authtoken]-style block of a service user
  cat <<EOF
auth_url = http://127.0.0.1:$PORT_KEYSTONE/v3
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $1
password = $SERVICE_PASS
region_name = RegionOne
EOF
}

db_url() { echo "mysql+pymysql://openstack:$DB_PASS@127.0.0.1:$PORT_MYSQL/$1"; }
rabbit_url() { echo "rabbit://openstack:$RABBIT_PASS@127.0.0.1:$PORT_RABBIT/"; }

write_configs() {
  load_passwords
  mkdir -p "$RUN/mysqld" "$LAB_DIR/mysql" "$LAB_DIR/rabbitmq" "$LOG/rabbitmq"
  chown mysql:mysql "$RUN/mysqld" "$LAB_DIR/mysql"
  chown rabbitmq:rabbitmq "$LAB_DIR/rabbitmq" "$LOG/rabbitmq"
  # The service users must reach their own directories below the 0700 lab dir.
  chmod 711 "$LAB_DIR" "$RUN"

  write_conf "$ETC/my.cnf" 644 <<EOF
[mysqld]
user = mysql
datadir = $LAB_DIR/mysql
socket = $RUN/mysqld/mysqld.sock
pid-file = $RUN/mysqld/mysqld.pid
bind-address = 127.0.0.1
port = $PORT_MYSQL
skip-name-resolve
max_connections = 1000
innodb_buffer_pool_size = 128M
character-set-server = utf8mb4
collation-server = utf8mb4_general_ci
log-error = $LOG/mariadb.err
[client]
socket = $RUN/mysqld/mysqld.sock
EOF

  write_conf "$ETC/rabbitmq/rabbitmq.conf" 644 <<EOF
listeners.tcp.default = 127.0.0.1:$PORT_RABBIT
loopback_users = none
EOF
  write_conf "$ETC/rabbitmq/enabled_plugins" 644 <<< '[].'
  # Every listener of the broker and its CLI on loopback: AMQP, Erlang distribution and EPMD.
  write_conf "$ETC/rabbitmq/rabbitmq-env.conf" 644 <<EOF
NODENAME=rabbit@localhost
NODE_IP_ADDRESS=127.0.0.1
NODE_PORT=$PORT_RABBIT
DIST_PORT=$PORT_RABBIT_DIST
CONFIG_FILE=$ETC/rabbitmq/rabbitmq.conf
ENABLED_PLUGINS_FILE=$ETC/rabbitmq/enabled_plugins
MNESIA_BASE=$LAB_DIR/rabbitmq/mnesia
LOG_BASE=$LOG/rabbitmq
PID_FILE=$LAB_DIR/rabbitmq/rabbit.pid
SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
# The broker and every CLI it runs (its shutdown runs rabbitmqctl stop) use the lab's epmd, never a default one.
export ERL_EPMD_PORT=$PORT_EPMD ERL_EPMD_ADDRESS=127.0.0.1
EOF

  write_conf "$ETC/keystone/keystone.conf" <<EOF
[DEFAULT]
use_stderr = true
[database]
connection = $(db_url keystone)
[token]
provider = fernet
[fernet_tokens]
key_repository = $LAB_DIR/keystone/fernet-keys
[fernet_receipts]
key_repository = $LAB_DIR/keystone/fernet-keys
[credential]
key_repository = $LAB_DIR/keystone/credential-keys
[cache]
enabled = false
EOF

  write_conf "$ETC/glance/glance-api.conf" <<EOF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = $PORT_GLANCE
workers = 1
use_stderr = true
[database]
connection = $(db_url glance)
[keystone_authtoken]
www_authenticate_uri = http://127.0.0.1:$PORT_KEYSTONE
$(authtoken glance)
[paste_deploy]
flavor = keystone
config_file = /etc/glance/glance-api-paste.ini
[glance_store]
stores = file
default_store = file
filesystem_store_datadir = $LAB_DIR/glance/images/
[oslo_concurrency]
lock_path = $LAB_DIR/glance/lock
EOF

  write_conf "$ETC/placement/placement.conf" <<EOF
[DEFAULT]
use_stderr = true
[placement_database]
connection = $(db_url placement)
[api]
auth_strategy = keystone
[keystone_authtoken]
www_authenticate_uri = http://127.0.0.1:$PORT_KEYSTONE
$(authtoken placement)
EOF

  mkdir -p "$ETC/nova"
  cp /etc/nova/api-paste.ini "$ETC/nova/api-paste.ini"
  write_conf "$ETC/nova/nova.conf" <<EOF
[DEFAULT]
transport_url = $(rabbit_url)
my_ip = 127.0.0.1
state_path = $LAB_DIR/nova
instances_path = $LAB_DIR/nova/instances
compute_driver = fake.FakeDriver
report_interval = $LAB_REPORT_INTERVAL
service_down_time = $LAB_SERVICE_DOWN_TIME
enabled_apis = osapi_compute
osapi_compute_listen = 127.0.0.1
osapi_compute_workers = 1
metadata_workers = 1
use_stderr = true
vif_plugging_is_fatal = false
vif_plugging_timeout = 0
[api]
auth_strategy = keystone
[api_database]
connection = $(db_url nova_api)
[database]
connection = $(db_url nova)
[keystone_authtoken]
www_authenticate_uri = http://127.0.0.1:$PORT_KEYSTONE
$(authtoken nova)
[placement]
$(authtoken placement)
[neutron]
$(authtoken neutron)
[glance]
api_servers = http://127.0.0.1:$PORT_GLANCE
[cinder]
os_region_name = RegionOne
[compute]
# Fake computes fail builds now and then under load; Nova must not disable them for it.
consecutive_build_service_disable_threshold = 0
[conductor]
workers = 1
[scheduler]
workers = 1
discover_hosts_in_cells_interval = 5
[wsgi]
api_paste_config = $ETC/nova/api-paste.ini
[vnc]
enabled = false
[oslo_concurrency]
lock_path = $LAB_DIR/nova/lock
[oslo_messaging_notifications]
driver = noop
EOF
  local h
  for h in "${LAB_HOSTS[@]}"; do
    write_conf "$ETC/nova/compute-$h.conf" <<EOF
[DEFAULT]
host = $h
my_ip = ${LAB_MGMT_IP[$h]}
instances_path = $LAB_DIR/nova/instances-$h
# A compute talks to the database through the conductor only, as in a real cloud.
[database]
connection =
[api_database]
connection =
[oslo_concurrency]
lock_path = $LAB_DIR/nova/lock-$h
EOF
  done

  write_conf "$ETC/neutron/neutron.conf" <<EOF
[DEFAULT]
core_plugin = ml2
service_plugins =
auth_strategy = keystone
bind_host = 127.0.0.1
bind_port = $PORT_NEUTRON
transport_url = $(rabbit_url)
state_path = $LAB_DIR/neutron
api_paste_config = /etc/neutron/api-paste.ini
api_workers = 1
rpc_workers = 1
rpc_state_report_workers = 1
dhcp_agent_notification = false
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
use_stderr = true
[database]
connection = $(db_url neutron)
[keystone_authtoken]
www_authenticate_uri = http://127.0.0.1:$PORT_KEYSTONE
$(authtoken neutron)
[nova]
$(authtoken nova)
[oslo_concurrency]
lock_path = $LAB_DIR/neutron/lock
EOF
  write_conf "$ETC/neutron/ml2_conf.ini" <<EOF
[ml2]
type_drivers = flat
tenant_network_types =
mechanism_drivers = cmpha_lab
extension_drivers = port_security
[ml2_type_flat]
flat_networks = physnet1
EOF

  uwsgi_ini keystone "$PORT_KEYSTONE" /usr/bin/keystone-wsgi-public 2 "OS_KEYSTONE_CONFIG_DIR=$ETC/keystone"
  uwsgi_ini placement "$PORT_PLACEMENT" /usr/bin/placement-api 1 "OS_PLACEMENT_CONFIG_DIR=$ETC/placement"
  # Four workers: a request that waits on a dead compute over RPC (GET /os-hypervisors/detail at 2.88+ asks
  # every compute for its uptime) holds one for rpc_response_timeout, 60 s. Debian's own default is 16.
  uwsgi_ini nova-api "$PORT_NOVA" /usr/bin/nova-api-wsgi 4 "OS_NOVA_CONFIG_DIR=$ETC/nova"
}

uwsgi_ini() { # NAME PORT WSGI_FILE PROCESSES ENV
  write_conf "$ETC/uwsgi/$1.ini" 644 <<EOF
[uwsgi]
plugins = python3
http-socket = 127.0.0.1:$2
wsgi-file = $3
env = $5
master = true
processes = $4
threads = 1
lazy-apps = true
enable-threads = true
# SIGTERM would otherwise mean "reload".
die-on-term = true
no-orphans = true
buffer-size = 65535
listen = 64
# uwsgi's http-socket drops idle kept-alive connections without a word, and clients that reuse one get
# ECONNRESET; telling them to close keeps the lab's own tooling deterministic.
add-header = Connection: close
EOF
}

# Services whose config changed since they started are restarted, so a second run converges.
restart_changed() {
  local name files f
  declare -A deps=(
    [mariadb]="$ETC/my.cnf"
    [epmd]="$ETC/rabbitmq/rabbitmq-env.conf"
    [rabbitmq]="$ETC/rabbitmq/rabbitmq.conf $ETC/rabbitmq/rabbitmq-env.conf"
    [keystone]="$ETC/keystone/keystone.conf $ETC/uwsgi/keystone.ini"
    [glance-api]="$ETC/glance/glance-api.conf"
    [placement]="$ETC/placement/placement.conf $ETC/uwsgi/placement.ini"
    [nova-api]="$ETC/nova/nova.conf $ETC/uwsgi/nova-api.ini"
    [nova-conductor]="$ETC/nova/nova.conf"
    [nova-scheduler]="$ETC/nova/nova.conf"
    [neutron-server]="$ETC/neutron/neutron.conf $ETC/neutron/ml2_conf.ini"
  )
  for f in "${LAB_HOSTS[@]}"; do deps[nova-compute-$f]="$ETC/nova/nova.conf $ETC/nova/compute-$f.conf"; done
  for name in "${!deps[@]}"; do
    for f in ${deps[$name]}; do
      if [[ -n ${CHANGED[$f]:-} ]] && is_running "$name"; then log "$f changed: restarting $name"; stop_pid "$name"; break; fi
    done
  done
}

# ---------------------------------------------------------------- MariaDB, RabbitMQ
tcp_open() { (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; }
sql() { mariadb --defaults-file="$ETC/my.cnf" -uroot "$@"; }

start_mariadb() {
  if [[ ! -d $LAB_DIR/mysql/mysql ]]; then
    log "initialising MariaDB in $LAB_DIR/mysql"
    mariadb-install-db --defaults-file="$ETC/my.cnf" --user=mysql --skip-test-db > "$LOG/mariadb-install.log" 2>&1
  fi
  start_bg mariadb /usr/sbin/mariadbd --defaults-file="$ETC/my.cnf"
  wait_for 60 "MariaDB" sql -e 'select 1'
  local db
  for db in keystone glance placement nova_api nova nova_cell0 neutron; do
    sql -e "CREATE DATABASE IF NOT EXISTS $db"
  done
  sql -e "CREATE USER IF NOT EXISTS 'openstack'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
          ALTER USER 'openstack'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
          GRANT ALL PRIVILEGES ON *.* TO 'openstack'@'127.0.0.1'; FLUSH PRIVILEGES;"
}

RABBIT_AS=(setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups
  env HOME="$LAB_DIR/rabbitmq" RABBITMQ_CONF_ENV_FILE="$ETC/rabbitmq/rabbitmq-env.conf" ERL_EPMD_ADDRESS=127.0.0.1
  ERL_EPMD_PORT="$PORT_EPMD")
as_rabbit() { "${RABBIT_AS[@]}" "$@"; }

start_rabbitmq() {
  # EPMD started here, on loopback, rather than by Erlang on its own (it would listen on every address).
  start_bg epmd /usr/bin/epmd -address 127.0.0.1 -port "$PORT_EPMD"
  wait_for 20 "epmd" tcp_open "$PORT_EPMD"
  start_bg rabbitmq "${RABBIT_AS[@]}" /usr/lib/rabbitmq/bin/rabbitmq-server
  wait_for 120 "RabbitMQ on $PORT_RABBIT" tcp_open "$PORT_RABBIT"
  as_rabbit /usr/lib/rabbitmq/bin/rabbitmqctl -q await_startup > /dev/null
  if ! as_rabbit /usr/lib/rabbitmq/bin/rabbitmqctl -q list_users | grep -q '^openstack'; then
    as_rabbit /usr/lib/rabbitmq/bin/rabbitmqctl -q add_user openstack "$RABBIT_PASS" > /dev/null
  fi
  as_rabbit /usr/lib/rabbitmq/bin/rabbitmqctl -q change_password openstack "$RABBIT_PASS" > /dev/null
  as_rabbit /usr/lib/rabbitmq/bin/rabbitmqctl -q set_permissions openstack '.*' '.*' '.*' > /dev/null
}

# ---------------------------------------------------------------- Keystone and the catalog
os_admin() {
  env -u OS_CLOUD OS_AUTH_URL="http://127.0.0.1:$PORT_KEYSTONE/v3" OS_USERNAME=admin OS_PASSWORD="$ADMIN_PASS" \
    OS_PROJECT_NAME=admin OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default OS_IDENTITY_API_VERSION=3 \
    OS_REGION_NAME=RegionOne OS_INTERFACE=public openstack "$@"
}

start_keystone() {
  mkdir -p "$LAB_DIR/keystone"
  if ! stamped keystone-db; then
    log "Keystone: db_sync, keys, bootstrap"
    local km=(keystone-manage --config-file "$ETC/keystone/keystone.conf")
    {
      "${km[@]}" db_sync
      "${km[@]}" fernet_setup --keystone-user root --keystone-group root
      "${km[@]}" credential_setup --keystone-user root --keystone-group root
    } >> "$LOG/keystone-manage.log" 2>&1
    "${km[@]}" bootstrap --bootstrap-password "$ADMIN_PASS" \
      --bootstrap-admin-url "http://127.0.0.1:$PORT_KEYSTONE/v3/" \
      --bootstrap-internal-url "http://127.0.0.1:$PORT_KEYSTONE/v3/" \
      --bootstrap-public-url "http://127.0.0.1:$PORT_KEYSTONE/v3/" --bootstrap-region-id RegionOne \
      >> "$LOG/keystone-manage.log" 2>&1
    stamp keystone-db
  fi
  start_bg keystone uwsgi --ini "$ETC/uwsgi/keystone.ini"
  wait_for 120 "Keystone" http_ok "http://127.0.0.1:$PORT_KEYSTONE/v3"
}

catalog() {
  stamped catalog && return 0
  log "Keystone: service project, users, services, endpoints"
  os_admin project show service > /dev/null 2>&1 || os_admin project create --domain default service > /dev/null
  local u
  for u in glance placement nova neutron; do
    os_admin user show "$u" > /dev/null 2>&1 || os_admin user create --domain default --password "$SERVICE_PASS" "$u" > /dev/null
    os_admin role add --project service --user "$u" admin
  done
  # The account cmpha runs with: admin on the admin project, as docs/configuration.md asks.
  os_admin user show cmpha > /dev/null 2>&1 || os_admin user create --domain default --password "$CMPHA_PASS" cmpha > /dev/null
  os_admin role add --project admin --user cmpha admin
  endpoint image glance "http://127.0.0.1:$PORT_GLANCE"
  endpoint placement placement "http://127.0.0.1:$PORT_PLACEMENT"
  endpoint compute nova "http://127.0.0.1:$PORT_NOVA/v2.1"
  endpoint network neutron "http://127.0.0.1:$PORT_NEUTRON"
  stamp catalog
}

endpoint() { # TYPE NAME URL
  os_admin service show "$2" > /dev/null 2>&1 || os_admin service create --name "$2" "$1" > /dev/null
  local iface
  for iface in public internal admin; do
    if [[ -z "$(os_admin endpoint list --service "$2" --interface "$iface" -f value -c ID)" ]]; then
      os_admin endpoint create --region RegionOne "$2" "$iface" "$3" > /dev/null
    fi
  done
}

# ---------------------------------------------------------------- the other services
db_syncs() {
  if ! stamped placement-db; then log "Placement: db sync"; placement-manage --config-file "$ETC/placement/placement.conf" db sync; stamp placement-db; fi
  if ! stamped glance-db; then log "Glance: db sync"; glance-manage --config-file "$ETC/glance/glance-api.conf" db_sync > "$LOG/glance-manage.log" 2>&1; stamp glance-db; fi
  if ! stamped nova-db; then
    log "Nova: api_db sync, cells, db sync"
    local nm=(nova-manage --config-file "$ETC/nova/nova.conf")
    "${nm[@]}" api_db sync
    "${nm[@]}" cell_v2 list_cells 2> /dev/null | grep -q ' cell0 ' || "${nm[@]}" cell_v2 map_cell0
    "${nm[@]}" cell_v2 list_cells 2> /dev/null | grep -q ' cell1 ' || "${nm[@]}" cell_v2 create_cell --name=cell1
    "${nm[@]}" db sync
    stamp nova-db
  fi
  if ! stamped neutron-db; then
    log "Neutron: db upgrade head (about a minute)"
    neutron-db-manage --config-file "$ETC/neutron/neutron.conf" --config-file "$ETC/neutron/ml2_conf.ini" upgrade head > "$LOG/neutron-db-manage.log" 2>&1
    stamp neutron-db
  fi
}

start_services() {
  mkdir -p "$LAB_DIR/glance/images" "$LAB_DIR/glance/lock" "$LAB_DIR/nova/lock" "$LAB_DIR/neutron/lock"
  start_bg placement uwsgi --ini "$ETC/uwsgi/placement.ini"
  start_bg glance-api glance-api --config-file "$ETC/glance/glance-api.conf"
  start_bg neutron-server env PYTHONPATH="$LAB_SRC/lib/ml2" CMPHA_LAB_HOST_SCRIPT="$LAB_SRC/lab-host.sh" \
    neutron-server --config-file "$ETC/neutron/neutron.conf" --config-file "$ETC/neutron/ml2_conf.ini"
  start_bg nova-conductor nova-conductor --config-file "$ETC/nova/nova.conf"
  start_bg nova-scheduler nova-scheduler --config-file "$ETC/nova/nova.conf"
  start_bg nova-api uwsgi --ini "$ETC/uwsgi/nova-api.ini"
  wait_for 120 "Placement" http_ok "http://127.0.0.1:$PORT_PLACEMENT/"
  wait_for 120 "Glance" http_ok "http://127.0.0.1:$PORT_GLANCE/"
  wait_for 180 "Neutron" http_ok "http://127.0.0.1:$PORT_NEUTRON/"
  wait_for 180 "nova-api" http_ok "http://127.0.0.1:$PORT_NOVA/"
}

# ---------------------------------------------------------------- hosts: namespace, BMC, nova-compute
bmc_files() {
  local h=$1 n=$2 d=$LAB_DIR/hosts/$1
  mkdir -p "$d/bmc-state"
  [[ -f $d/power ]] || echo 1 > "$d/power"
  write_conf "$d/bmc.emu" 644 <<'EOF'
mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02
sel_enable 0x20 50 0x0a
mc_enable 0x20
EOF
  local auths='none md2 md5 straight'
  write_conf "$d/lan.conf" 600 <<EOF
name "$h"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 ${LAB_BMC_PORT[$h]}
    priv_limit admin
    allowed_auths_callback $auths
    allowed_auths_user $auths
    allowed_auths_operator $auths
    allowed_auths_admin $auths
    guid a123456789abcdefa123456789abcd0$n
  endlan
  chassis_control "$LAB_SRC/lib/bmc-hook.sh $h"
  user 2 true "admin" "$BMC_PASS" admin 10 $auths
EOF
  if [[ -n ${CHANGED[$d/lan.conf]:-} ]] && is_running "bmc-$h"; then stop_pid "bmc-$h"; fi
}

ipmi() { IPMI_PASSWORD=$BMC_PASS ipmitool -I lanplus -C 3 -H 127.0.0.1 -p "${LAB_BMC_PORT[$1]}" -U admin -E -N 1 -R 1 "${@:2}"; }

start_hosts() {
  local h n=0
  for h in "${LAB_HOSTS[@]}"; do
    n=$((n + 1))
    "$LAB_SRC/lab-host.sh" net-up "$h"
    bmc_files "$h" "$n"
    start_bg "bmc-$h" ipmi_sim -c "$LAB_DIR/hosts/$h/lan.conf" -f "$LAB_DIR/hosts/$h/bmc.emu" -s "$LAB_DIR/hosts/$h/bmc-state" -n
    wait_for 20 "BMC of $h" ipmi "$h" chassis power status
    # Every host comes up powered on, also one a test left off.
    "$LAB_SRC/lab-host.sh" power-on "$h"
  done
}

wait_computes() {
  local deadline=$(($(date +%s) + 180)) up
  while :; do
    /usr/bin/nova-manage --config-file "$ETC/nova/nova.conf" cell_v2 discover_hosts > /dev/null 2>&1 || true
    # A service left forced down (an evacuated host before its restore) never reads up; it only has to exist.
    up=$(os_admin --os-compute-api-version 2.53 compute service list --service nova-compute --long -f value -c Host -c State -c 'Forced Down' 2> /dev/null \
      | awk '$2 == "up" || $3 == "True"' | wc -l)
    local want=${#LAB_HOSTS[@]}
    ((up >= want)) && break
    (($(date +%s) > deadline)) && die "only $up of $want nova-compute services are up after 180 s (logs: $LOG/nova-compute-*.log)"
    sleep 3
  done
  wait_for 120 "every hypervisor listed" hypervisors_listed
}

hypervisors_listed() { (($(os_admin hypervisor list -f value -c 'Hypervisor Hostname' | wc -l) >= ${#LAB_HOSTS[@]})); }

# ---------------------------------------------------------------- image, flavor, network, spare
resources() {
  if ! stamped image; then
    head -c 8192 /dev/zero > "$LAB_DIR/lab-image.raw"
    os_admin image show lab-image > /dev/null 2>&1 || os_admin image create --disk-format raw --container-format bare \
      --public --file "$LAB_DIR/lab-image.raw" lab-image > /dev/null
    stamp image
  fi
  if ! stamped flavor; then
    os_admin flavor show lab.tiny > /dev/null 2>&1 || os_admin flavor create --vcpus 1 --ram 64 --disk 1 lab.tiny > /dev/null
    stamp flavor
  fi
  if ! stamped network; then
    os_admin network show lab-net > /dev/null 2>&1 || os_admin network create --share --provider-network-type flat \
      --provider-physical-network physnet1 lab-net > /dev/null
    os_admin subnet show lab-subnet > /dev/null 2>&1 || os_admin subnet create --network lab-net --subnet-range "$LAB_SUBNET_CIDR" \
      --allocation-pool "start=$LAB_SUBNET_POOL_START,end=$LAB_SUBNET_POOL_END" --gateway none --no-dhcp lab-subnet > /dev/null
    stamp network
  fi
  if ! stamped spare; then
    os_admin compute service set --disable --disable-reason "down_prepare lab spare" "$LAB_SPARE" nova-compute
    stamp spare
  fi
}

# ---------------------------------------------------------------- what cmpha and people use
client_files() {
  write_conf "$ETC/openrc" 600 <<EOF
export OS_AUTH_URL=http://127.0.0.1:$PORT_KEYSTONE/v3
export OS_USERNAME=admin
export OS_PASSWORD=$ADMIN_PASS
export OS_PROJECT_NAME=admin
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_IDENTITY_API_VERSION=3
export OS_REGION_NAME=RegionOne
EOF
  write_conf "$ETC/clouds.yaml" 600 <<EOF
clouds:
  lab-admin:
    auth:
      auth_url: http://127.0.0.1:$PORT_KEYSTONE/v3
      username: admin
      password: $ADMIN_PASS
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    identity_api_version: 3
  lab-cmpha:
    auth:
      auth_url: http://127.0.0.1:$PORT_KEYSTONE/v3
      username: cmpha
      password: $CMPHA_PASS
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    identity_api_version: 3
EOF
  printf '%s\n' "$CMPHA_PASS" | write_conf "$ETC/cmpha-password" 600
  printf '%s\n' "$BMC_PASS" | write_conf "$ETC/bmc-password" 600
  local h hosts=""
  for h in "${LAB_HOSTS[@]}"; do
    hosts+="
[host:$h]
mgmt_ip = ${LAB_MGMT_IP[$h]}
driver = ipmi
address = 127.0.0.1
port = ${LAB_BMC_PORT[$h]}
username = admin
password_file = $ETC/bmc-password
# OpenIPMI's ipmi_sim has no cipher suite 17.
ipmi_cipher_suite = 3
"
  done
  write_conf "$ETC/cmpha.conf" 600 <<EOF
# cmpha against the OpenStack lab (test/e2e/openstack/lab-up.sh). Redis is not part of the lab:
# set [redis] url to a redis-server of your own (the lab tests start one on a free port).
[cloud]
auth_url = http://127.0.0.1:$PORT_KEYSTONE/v3
username = cmpha
password_file = $ETC/cmpha-password
user_domain_name = Default
project_name = admin
project_domain_name = Default
region_name = RegionOne

[detector]
heartbeat_timeout = 30s
instance_networks = lab-net
isolation_addresses = $LAB_BRIDGE_IP
max_dead_hosts = 1
max_dead_fraction = 0.5

[fencing]
timeout = 30s
poll_interval = 1s

[evacuation]
# states: the default (every lasting state cmpha can move back as it was).
verify_timeout = 300s
verify_poll_interval = 1s
spare_reason_prefix = down_prepare

[redis]
url = redis://127.0.0.1:6379

[metrics]
enabled = false

[logging]
level = info
format = json
$hosts
EOF
}

# ---------------------------------------------------------------- report
memory_mib() { # RSS and PSS (shared pages counted once) of every process the lab started, with descendants
  local f pid all=() p pss=0
  for f in "$RUN"/*.pid; do
    [[ -e $f ]] || continue
    pid=$(pid_of "$(basename "$f" .pid)") || continue
    all+=("$pid" $(descendants "$pid"))
  done
  ((${#all[@]})) || { echo "0 0"; return; }
  for p in "${all[@]}"; do
    pss=$((pss + $(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)))
  done
  echo "$(ps -o rss= -p "$(IFS=,; echo "${all[*]}")" | awk '{s += $1} END {printf "%d", s / 1024}') $((pss / 1024))"
}

install_packages
T_START=$(date +%s.%N)
make_passwords
load_passwords
write_configs
restart_changed
start_mariadb
start_rabbitmq
start_keystone
catalog
db_syncs
start_services
start_hosts
wait_computes
resources
client_files
START_S=$(elapsed "$T_START")
read -r MEM PSS <<< "$(memory_mib)"
{
  cat "$STATE/install.env" 2> /dev/null || true
  echo "start_seconds=$START_S"
  echo "processes_started=${LAB_STARTED:-0}"
  echo "memory_rss_mib=$MEM"
  echo "memory_pss_mib=$PSS"
  echo "report_interval=$LAB_REPORT_INTERVAL"
  echo "service_down_time=$LAB_SERVICE_DOWN_TIME"
} > "$STATE/last-up.env"
log "lab up in $(elapsed "$T0") s (start $START_S s), lab processes use $MEM MiB RSS ($PSS MiB PSS)"
log "admin credentials: $ETC/openrc, $ETC/clouds.yaml; cmpha config: $ETC/cmpha.conf"
