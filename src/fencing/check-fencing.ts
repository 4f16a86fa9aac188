import { mapLimit } from '../shared/map-limit.js';
import type { CephConfig, FencingConfig, HostConfig } from '../config/types.js';
import { wholeIpEntriesOf, type BlocklistState } from './ceph/ceph-client.js';
import { createCephClient, fenceLevelNames } from './fence-plan.js';
import { CmphaError, errorMessage } from '../shared/errors.js';
import { sleep, withTimeout } from '../shared/time.js';
import { FenceCode } from './codes.js';
import { createFenceDriver, type FenceDriverDeps } from './create-driver.js';
import type { PowerState } from './types.js';

/** What `cmpha fence status` and readiness checks say about one host's fencing. */
export interface HostFenceStatus {
  readonly host: string;
  readonly driver: HostConfig['fence']['driver'];
  /** address:port of the BMC, when there is one. */
  readonly bmc?: string;
  /** Whether the BMC answered at all (a refused password is an answer). Undefined without a BMC. */
  readonly reachable?: boolean;
  readonly power?: PowerState;
  /** True only when cmpha could fence this host now: a real BMC that answered on or off. */
  readonly works: boolean;
  /** The error code when reading failed. */
  readonly code?: string;
  /** What went wrong, or why this host is special. */
  readonly note?: string;
  /** The host's fence levels in order, each device with whether it answers now (read-only checks). */
  readonly levels?: readonly (readonly DeviceAnswer[])[];
}

/** One fence device of a level, and whether it answered a read-only question just now. */
export interface DeviceAnswer {
  readonly device: string;
  readonly answers: boolean;
  /** The power state read, the osdmap epoch, or why it did not answer. */
  readonly detail: string;
}

export interface FenceCheckDeps extends FenceDriverDeps {
  readonly signal?: AbortSignal;
  /** The configured Ceph cluster, for hosts with a `ceph` level. */
  readonly ceph?: CephConfig;
  /** The cluster's osdmap, read once for every host of one check. */
  readonly osdDump?: () => Promise<BlocklistState>;
}

export const NOT_FENCEABLE = 'NOT FENCEABLE — will never be evacuated';

/**
 * Reads one host's power state through its BMC without changing anything. Never throws: a broken config or BMC
 * becomes `works: false` with the reason.
 */
export async function checkHostFencing(host: HostConfig, fencing: FencingConfig, deps: FenceCheckDeps = {}): Promise<HostFenceStatus> {
  const names = fenceLevelNames(host, host.fence.driver === 'none' ? undefined : host.fence.driver);
  const needsCeph = names.some((l) => l.includes('ceph'));
  const [bmc, storage] = await Promise.all([
    checkBmc(host, fencing, deps),
    needsCeph ? checkStorage(host, deps) : Promise.resolve(undefined),
  ]);
  const bmcAnswer: DeviceAnswer = {
    device: host.fence.driver, answers: bmc.reachable === true && bmc.power !== undefined && bmc.power !== 'unknown',
    detail: bmc.power && bmc.power !== 'unknown' ? `power ${bmc.power}` : bmc.note ?? bmc.code ?? 'no answer',
  };
  const levels = names.map((level) => level.map((d) => (d === 'ceph' ? storage! : { ...bmcAnswer, device: d })));
  return { ...bmc, levels };
}

/** Reads the osdmap (`osd dump`): read-only, never a blocklist change. Never throws. */
async function checkStorage(host: HostConfig, deps: FenceCheckDeps): Promise<DeviceAnswer> {
  const dump = deps.osdDump ?? (deps.ceph ? osdDumpOnce(deps.ceph, deps.signal) : undefined);
  if (!dump) return { device: 'ceph', answers: false, detail: 'no [ceph] section: nothing to blocklist the host with' };
  try {
    const state = await dump();
    const listed = (host.storageIps ?? []).flatMap((ip) => Object.keys(wholeIpEntriesOf(state, ip)));
    return { device: 'ceph', answers: true, detail: `osd dump answers (epoch ${state.epoch})${listed.length ? `; blocklisted now: ${listed.join(', ')}` : ''}` };
  } catch (err) {
    return { device: 'ceph', answers: false, detail: err instanceof CmphaError ? `${err.code}: ${err.message}` : errorMessage(err) };
  }
}

/** One `osd dump` shared by every caller. */
export function osdDumpOnce(ceph: CephConfig, signal?: AbortSignal): () => Promise<BlocklistState> {
  let read: Promise<BlocklistState> | undefined;
  return () => (read ??= createCephClient(ceph).blocklistState(signal));
}

async function checkBmc(host: HostConfig, fencing: FencingConfig, deps: FenceCheckDeps): Promise<Omit<HostFenceStatus, 'levels'>> {
  const fence = host.fence;
  if (fence.driver === 'none') return { host: host.name, driver: 'none', works: false, note: NOT_FENCEABLE };
  const bmc = fence.driver === 'noop' ? undefined : `${fence.address.includes(':') ? `[${fence.address}]` : fence.address}:${fence.port}`;
  const base = { host: host.name, driver: fence.driver, ...(bmc ? { bmc } : {}) };
  if (fence.driver === 'noop') {
    return { ...base, works: false, note: 'noop (labs only): nothing is powered off; evacuation would run on a live host' };
  }
  let driver;
  try {
    driver = createFenceDriver(host, fencing, deps)!;
  } catch (err) {
    return { ...base, works: false, code: err instanceof CmphaError ? err.code : FenceCode.configInvalid, note: errorMessage(err) };
  }
  const signal = withTimeout(fencing.timeoutMs, deps.signal);
  for (let attempt = 1; ; attempt++) {
    try {
      const reading = driver.readPower ? await driver.readPower(signal) : { state: await driver.powerStatus(signal), raw: '' };
      if (reading.state === 'unknown') {
        return { ...base, reachable: true, power: 'unknown', works: false, code: FenceCode.stateUnknown, note: `power state unreadable: ${reading.raw}` };
      }
      return { ...base, reachable: true, power: reading.state, works: true };
    } catch (err) {
      const e = err instanceof CmphaError ? err : new CmphaError(FenceCode.error, errorMessage(err));
      if (e.retryable && attempt < fencing.attempts && !signal.aborted) {
        try { await sleep(fencing.pollIntervalMs, signal); } catch { /* out of time: report this error below */ }
        if (!signal.aborted) continue;
      }
      const silent = e.code === FenceCode.unreachable || e.code === FenceCode.timeout || e.code === FenceCode.aborted;
      return { ...base, reachable: !silent, works: false, code: e.code, note: e.message };
    }
  }
}

/** Checks every host, a few at a time, in the order given. */
export async function checkAllFencing(hosts: readonly HostConfig[], fencing: FencingConfig, deps: FenceCheckDeps & { concurrency?: number } = {}): Promise<HostFenceStatus[]> {
  const osdDump = deps.osdDump ?? (deps.ceph ? osdDumpOnce(deps.ceph, deps.signal) : undefined);
  return mapLimit(hosts, deps.concurrency ?? 8, (h) => checkHostFencing(h, fencing, { ...deps, ...(osdDump ? { osdDump } : {}) }));
}

/** A host's levels in one line, in config order: `redfish answers | ceph NOT ANSWERING` ("+" joins a level's devices). */
export function describeLevels(levels: HostFenceStatus['levels'], withDetail = false): string {
  if (!levels || levels.length === 0) return 'no fence level';
  return levels
    .map((l) => l.map((d) => `${d.device} ${d.answers ? 'answers' : 'NOT ANSWERING'}${withDetail ? ` (${d.detail})` : ''}`).join(' + '))
    .join(' | ');
}
