import type { FencingConfig } from '../config/types.js';
import type { HostFenceStatus } from '../fencing/check-fencing.js';
import { isUnfencedDevice } from '../fencing/devices/registry.js';
import type { MgmtAddress } from '../detector/mgmt-addresses.js';
import type { ProbeResult } from '../detector/types.js';
import { namesOf, type CloudNames, type ComputeHost } from '../compute/types.js';
import type { CheckStatus, DoctorHost, HostProblem } from './types.js';

export const IMAGE_BACKED_WARNING = 'evacuation rebuilds an image-backed server from its image unless the instance directory is on shared storage; '
  + 'set `[evacuation] shared_storage = true` if it is';

export interface HostFacts {
  readonly host: string;
  /** The cloud's words (Nova's when absent). */
  readonly names?: CloudNames;
  readonly role: 'compute' | 'spare';
  readonly service: ComputeHost | null;
  /** Null when the host has no `[host:NAME]` section. */
  readonly fence: HostFenceStatus | null;
  readonly mgmt: MgmtAddress;
  /** The probe's answer for the management IP; null when not probed. */
  readonly mgmtResult: ProbeResult | null;
  readonly servers: DoctorHost['servers'];
  /** Why the servers could not be listed. */
  readonly serversError?: string;
  /** Why the spare step would not find room for this host's servers. */
  readonly spareProblem?: string;
  readonly sharedStorage: boolean;
  /** Addresses on networks other than management (`storage_ip`, `tunnel_ip`); absent when not known. */
  readonly otherNetworks?: number;
  /** `[detector] instance_networks` is set, so instance addresses may add a signal. */
  readonly instanceNetworks?: boolean;
  /** How long a host with only its management network must be silent (`single_signal_silence`). */
  readonly singleSignalSilenceMs?: number;
  /** Nova could not be asked at all: nothing about this host's failover can be relied on. */
  readonly novaUnavailable?: boolean;
  /** `[host:NAME] ha = false`: opted out of HA. */
  readonly haOff?: boolean;
}

export function worst(statuses: readonly CheckStatus[]): CheckStatus {
  return statuses.includes('fail') ? 'fail' : statuses.includes('warn') ? 'warn' : 'ok';
}

function fencingProblem(f: HostFacts['fence'], host: string, fencing: Pick<FencingConfig, 'allowUnfencedEvacuation'>): HostProblem | null {
  if (!f) return { status: 'fail', detail: `not fenceable: no [host:${host}] section (BMC address and credentials), so it would never be evacuated` };
  if (f.driver === 'none') return { status: 'fail', detail: 'not fenceable: driver = none, so it would never be evacuated' };
  if (isUnfencedDevice(f.driver)) {
    return fencing.allowUnfencedEvacuation
      ? { status: 'warn', detail: `driver ${f.driver} (labs only): nothing is powered off; a live host's servers would run twice` }
      : { status: 'fail', detail: `driver ${f.driver} without allow_unfenced_evacuation: the fence step refuses, nothing would be evacuated` };
  }
  if (!f.works) return { status: 'fail', detail: `fencing does not work${f.bmc ? ` (BMC ${f.bmc})` : ''}: ${f.note ?? f.code ?? 'no answer'}` };
  if (f.power === 'off') return { status: 'warn', detail: 'the BMC reads power off' };
  return null;
}

/** What stands between this host and a working failover, worst first. Pure. */
export function judgeHost(f: HostFacts, fencing: Pick<FencingConfig, 'allowUnfencedEvacuation'>): DoctorHost {
  const problems: HostProblem[] = [];
  const svc = f.service;
  if (f.role === 'spare') {
    if (svc && (svc.state !== 'up' || svc.isolated)) problems.push({ status: 'warn', detail: 'spare is not up: it cannot take evacuated servers' });
  } else {
    const fp = fencingProblem(f.fence, f.host, fencing);
    if (fp) problems.push(fp);
    const { cloud, agent, isolated } = namesOf(f);
    if (!svc) problems.push(f.novaUnavailable ? { status: 'fail', detail: `${cloud} could not be asked about this host` } : { status: 'warn', detail: `${cloud} lists no ${agent} service for this host` });
    else if (svc.isolated) problems.push({ status: 'warn', detail: `${agent} is ${isolated} (an incident or an operator): not watched until restored` });
    else if (svc.status === 'disabled') problems.push({ status: 'warn', detail: `${agent} is disabled${svc.reason ? ` (${svc.reason})` : ''}: maintenance, cmpha does not act on it` });
    else if (svc.state === 'down') problems.push({ status: 'warn', detail: `${cloud} reports ${agent} down now` });
    if (svc && svc.status === 'enabled') {
      if (f.mgmt.ip === null) problems.push({ status: 'fail', detail: `no management IP (${f.mgmt.problem ?? 'unknown'}): without one the host can never be proven dead` });
      else if (f.mgmtResult === 'silent') problems.push({ status: 'warn', detail: `management IP ${f.mgmt.ip} does not answer while ${cloud} sees the host: wrong mgmt_ip, or a firewall drops ICMP` });
      else if (f.mgmtResult === 'unknown') problems.push({ status: 'warn', detail: `management IP ${f.mgmt.ip}: the probe gave no answer` });
      if (f.mgmt.ip !== null && f.otherNetworks === 0) {
        const wait = f.singleSignalSilenceMs !== undefined ? ` (${Math.round(f.singleSignalSilenceMs / 1000)} s)` : '';
        problems.push({ status: 'warn', detail: `one independent signal: only the management network is watched (no storage_ip or tunnel_ip)${f.instanceNetworks ? ' unless its instances answer on instance_networks' : ''}; a cut management link looks like death, so it needs single_signal_silence${wait} of silence before it is dead` });
      }
    }
    if (f.haOff) problems.push({ status: 'warn', detail: `opted out of HA ([host:${f.host}] ha = false): watched and reported, never fenced or evacuated` });
    if (f.serversError) problems.push({ status: 'fail', detail: `cannot list its servers: ${f.serversError}` });
    if (f.spareProblem) problems.push({ status: 'fail', detail: f.spareProblem });
    if (f.servers && f.servers.imageBacked > 0 && !f.sharedStorage) {
      problems.push({ status: 'warn', detail: `${f.servers.imageBacked} image-backed server(s) would be rebuilt from their image unless on shared storage (see the storage check)` });
    }
  }
  problems.sort((a, b) => (a.status === b.status ? 0 : a.status === 'fail' ? -1 : 1));
  const fence = f.fence;
  return {
    host: f.host,
    zone: svc?.zone ?? null,
    role: f.role,
    ...(f.haOff && f.role === 'compute' ? { haOff: true as const } : {}),
    status: worst(problems.map((p) => p.status)),
    problems,
    service: svc ? { state: svc.state, status: svc.status, forcedDown: svc.isolated, disabledReason: svc.reason } : null,
    fencing: fence
      ? {
        driver: fence.driver, works: fence.works,
        ...(fence.bmc ? { bmc: fence.bmc } : {}),
        ...(fence.reachable !== undefined ? { reachable: fence.reachable } : {}),
        ...(fence.power ? { power: fence.power } : {}),
        ...(fence.levels ? { levels: fence.levels } : {}),
      }
      : { driver: 'unconfigured', works: false },
    mgmt: { ip: f.mgmt.ip, source: f.mgmt.source, answering: f.mgmtResult === null || f.mgmtResult === 'unknown' ? null : f.mgmtResult === 'alive' },
    servers: f.servers,
  };
}
