#!/usr/bin/env bash
# An anti-affinity member on a dead host, evacuated to the host of its sibling (named target, 2.29, no force),
# then without a target while no other host is enabled, then without a target with spare1 enabled; Nova's answers,
# the server's state and its evacuation migrations printed as they come. Run under the lab lock, as root:
#   flock -o -w 1500 /run/cmpha-lab.lock bash test/e2e/openstack/lib/measure-server-groups.sh
# Figures go to docs/openstack-lab.md ("Server groups on a dead host"). Leaves compute1 up, spare1 a disabled spare,
# the servers and the group deleted.
set -uo pipefail
LH="$(cd "$(dirname "$0")/.." && pwd)/lab-host.sh"
source /var/lib/cmpha-lab/etc/openrc
TOK=$(openstack token issue -f value -c id)
N=http://127.0.0.1:8774/v2.1
api() { local m=$1 p=$2 mv=$3; shift 3; curl -s -w '\nHTTP %{http_code}\n' -X "$m" -H "X-Auth-Token: $TOK" -H "OpenStack-API-Version: compute $mv" -H 'Content-Type: application/json' "$N$p" "$@"; }
show() { api GET /servers/$1 2.73 | python3 -c 'import sys,json; t=sys.stdin.read().rsplit("\nHTTP",1)[0]; s=json.loads(t)["server"]; print(s["status"], s["OS-EXT-STS:vm_state"], s["OS-EXT-STS:task_state"], s["OS-EXT-SRV-ATTR:host"], (s.get("fault") or {}).get("message"))'; }
IMG=$(openstack image show lab-image -f value -c id); FL=$(openstack flavor show lab.tiny -f value -c id); NET=$(openstack network show lab-net -f value -c id)
G=$(api POST /os-server-groups 2.64 -d '{"server_group":{"name":"meas-aa","policy":"anti-affinity"}}' | head -1 | python3 -c 'import sys,json; print(json.load(sys.stdin)["server_group"]["id"])')
echo "group $G"
boot() { api POST /servers 2.1 -d "{\"server\":{\"name\":\"$1\",\"imageRef\":\"$IMG\",\"flavorRef\":\"$FL\",\"networks\":[{\"uuid\":\"$NET\"}],\"availability_zone\":\"nova:$2\"},\"os:scheduler_hints\":{\"group\":\"$G\"}}" | head -1 | python3 -c 'import sys,json; print(json.load(sys.stdin)["server"]["id"])'; }
A=$(boot meas-aa-a compute1); B=$(boot meas-aa-b compute2)
for i in $(seq 1 90); do sa=$(show $A); sb=$(show $B); [[ $sa == ACTIVE* && $sb == ACTIVE* ]] && break; sleep 2; done
echo "A $A: $sa"; echo "B $B: $sb"
api GET /os-server-groups/$G 2.64 | head -1
$LH compute-stop compute1
SVC=$(openstack compute service list --service nova-compute --host compute1 -f value -c ID)
api PUT /os-services/$SVC 2.53 -d '{"forced_down": true}' | tail -1
echo "--- evacuate A host=compute2 (2.29)"; api POST /servers/$A/action 2.29 -d '{"evacuate":{"host":"compute2"}}'
for i in $(seq 1 30); do s=$(show $A); echo "$(date +%T) $s"; [[ $s != *rebuilding* && $s != REBUILD* ]] && break; sleep 1; done
api GET "/os-migrations?migration_type=evacuation&instance_uuid=$A" 2.59 | head -1 | python3 -c 'import sys,json; [print(m["status"], m["source_compute"], m["dest_compute"]) for m in json.load(sys.stdin)["migrations"]]'
api GET /servers/$A/os-instance-actions 2.1 | head -1
grep -h "$A" /var/lib/cmpha-lab/log/nova-conductor.log /var/lib/cmpha-lab/log/nova-scheduler.log 2>/dev/null | grep -i "novalid\|filter\|Rebuild failed\|refused\|returned 0" | tail -8
echo "--- evacuate A without target while spare1 is disabled"; api POST /servers/$A/action 2.29 -d '{"evacuate":{}}'
for i in $(seq 1 30); do s=$(show $A); echo "$(date +%T) $s"; [[ $s != *rebuilding* && $s != REBUILD* ]] && break; sleep 1; done
SP=$(openstack compute service list --service nova-compute --host spare1 -f value -c ID)
api PUT /os-services/$SP 2.53 -d '{"status": "enabled"}' | tail -1
echo "--- evacuate A without target, spare1 enabled"; api POST /servers/$A/action 2.29 -d '{"evacuate":{}}'
for i in $(seq 1 60); do s=$(show $A); echo "$(date +%T) $s"; [[ $s == ACTIVE*None* || $s == "ACTIVE active None"* ]] && break; sleep 1; done
api GET "/os-migrations?migration_type=evacuation&instance_uuid=$A" 2.59 | head -1 | python3 -c 'import sys,json; [print(m["status"], m["source_compute"], m["dest_compute"]) for m in json.load(sys.stdin)["migrations"]]'
echo "--- cleanup"
api PUT /os-services/$SP 2.53 -d '{"status": "disabled", "disabled_reason": "down_prepare lab spare"}' | tail -1
$LH compute-start compute1
for i in $(seq 1 90); do m=$(api GET "/os-migrations?migration_type=evacuation&instance_uuid=$A" 2.59 | head -1); [[ $m != *'"done"'* ]] && break; sleep 2; done
echo "$m" | python3 -c 'import sys,json; [print(m["status"], m["source_compute"], m["dest_compute"]) for m in json.load(sys.stdin)["migrations"]]'
api PUT /os-services/$SVC 2.53 -d '{"forced_down": false}' | tail -1
api DELETE /servers/$A 2.1 | tail -1; api DELETE /servers/$B 2.1 | tail -1
sleep 5; api DELETE /os-server-groups/$G 2.1 | tail -1
