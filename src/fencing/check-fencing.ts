import { mapLimit } from '../shared/map-limit.js';
import type { FencingConfig, HostConfig } from '../config/types.js';
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
}

export const NOT_FENCEABLE = 'NOT FENCEABLE — will never be evacuated';

/**
 * Reads one host's power state through its BMC without changing anything. Never throws: a broken config or BMC
 * becomes `works: false` with the reason.
 */
export async function checkHostFencing(host: HostConfig, fencing: FencingConfig, deps: FenceDriverDeps & { signal?: AbortSignal } = {}): Promise<HostFenceStatus> {
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
export async function checkAllFencing(hosts: readonly HostConfig[], fencing: FencingConfig, deps: FenceDriverDeps & { signal?: AbortSignal; concurrency?: number } = {}): Promise<HostFenceStatus[]> {
  return mapLimit(hosts, deps.concurrency ?? 8, (h) => checkHostFencing(h, fencing, deps));
}
