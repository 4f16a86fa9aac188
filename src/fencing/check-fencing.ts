import { mapLimit } from '../shared/map-limit.js';
import type { CephConfig, FencingConfig, HostConfig } from '../config/types.js';
import type { BlocklistState } from './ceph/ceph-client.js';
import { createCephClient, fenceLevelNames } from './fence-plan.js';
import { CmphaError, errorMessage } from '../shared/errors.js';
import { sleep, withTimeout } from '../shared/time.js';
import { FenceCode } from './codes.js';
import { createFenceDriver, deviceEnv, type FenceDriverDeps } from './create-driver.js';
import type { DeviceAnswer, KdumpEnv } from './device.js';
import { levelDeviceType, powerDeviceType } from './devices/registry.js';
import { readPowerOnce } from './power-device.js';
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

export type { DeviceAnswer };

export interface FenceCheckDeps extends FenceDriverDeps {
  readonly signal?: AbortSignal;
  /** The configured Ceph cluster, for hosts with a `ceph` level. */
  readonly ceph?: CephConfig;
  /** The cluster's osdmap, read once for every host of one check. */
  readonly osdDump?: () => Promise<BlocklistState>;
  /** This process's fence_kdump listener, when it runs one. */
  readonly kdump?: KdumpEnv;
}

export const NOT_FENCEABLE = 'NOT FENCEABLE — will never be evacuated';

/**
 * Reads one host's power state through its power device and asks each device of its levels a read-only
 * question, each device as its type in the registry says. Never throws: a broken config or BMC becomes
 * `works: false` with the reason.
 */
export async function checkHostFencing(host: HostConfig, fencing: FencingConfig, deps: FenceCheckDeps = {}): Promise<HostFenceStatus> {
  const names = fenceLevelNames(host, host.fence.driver === 'none' ? undefined : host.fence.driver);
  const osdDump = deps.osdDump ?? (deps.ceph ? osdDumpOnce(deps.ceph, deps.signal) : undefined);
  const env = { ...deviceEnv(host, fencing, deps), ...(osdDump ? { osdDump } : {}), ...(deps.kdump ? { kdump: deps.kdump } : {}) };
  const storageNames = [...new Set(names.flat().filter((d) => levelDeviceType(d) !== undefined))];
  const [power, ...storage] = await Promise.all([
    checkPower(host, fencing, deps),
    ...storageNames.map((d) => levelDeviceType(d)!.check(env, deps.signal)),
  ]);
  const powerAnswer: DeviceAnswer = {
    device: host.fence.driver, answers: power.reachable === true && power.power !== undefined && power.power !== 'unknown',
    detail: power.power && power.power !== 'unknown' ? `power ${power.power}` : power.note ?? power.code ?? 'no answer',
  };
  const answerOf = (d: string): DeviceAnswer => {
    const i = storageNames.indexOf(d);
    return i >= 0 ? storage[i]! : { ...powerAnswer, device: d };
  };
  const levels = names.map((level) => level.map(answerOf));
  return { ...power, levels };
}

/** One `osd dump` shared by every caller. */
export function osdDumpOnce(ceph: CephConfig, signal?: AbortSignal): () => Promise<BlocklistState> {
  let read: Promise<BlocklistState> | undefined;
  return () => (read ??= createCephClient(ceph).blocklistState(signal));
}

async function checkPower(host: HostConfig, fencing: FencingConfig, deps: FenceCheckDeps): Promise<Omit<HostFenceStatus, 'levels'>> {
  const fence = host.fence;
  if (fence.driver === 'none') return { host: host.name, driver: 'none', works: false, note: NOT_FENCEABLE };
  const type = powerDeviceType(fence.driver)!;
  const where = type.where(fence);
  const base = { host: host.name, driver: fence.driver, ...(where ? { bmc: where } : {}) };
  if (type.unfenced) {
    return { ...base, works: false, note: `${fence.driver} (labs only): nothing is powered off; evacuation would run on a live host` };
  }
  let driver;
  try {
    driver = createFenceDriver(host, fencing, deps)!;
  } catch (err) {
    return { ...base, works: false, code: err instanceof CmphaError ? err.code : FenceCode.configInvalid, note: errorMessage(err) };
  }
  const signal = withTimeout(fencing.timeoutMs, deps.signal);
  for (let attempt = 1; ; attempt++) {
    const a = await readPowerOnce(driver, signal);
    if (a.answers) return { ...base, reachable: true, power: a.power!, works: true };
    if (a.retryable && attempt < fencing.attempts && !signal.aborted) {
      try { await sleep(fencing.pollIntervalMs, signal); } catch { /* out of time: report this answer below */ }
      if (!signal.aborted) continue;
    }
    return { ...base, reachable: a.reachable === true, ...(a.power ? { power: a.power } : {}), works: false, ...(a.code ? { code: a.code } : {}), note: a.detail };
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
