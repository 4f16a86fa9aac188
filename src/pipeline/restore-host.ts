import type { FenceDriver } from '../fencing/types.js';
import type { ComputeBackend } from '../compute/types.js';
import { CmphaError } from '../shared/errors.js';
import { formatDuration } from '../shared/duration.js';
import type { Clock } from '../shared/time.js';
import { isUnfencedDevice } from '../fencing/devices/registry.js';

export interface RestoreHostOptions {
  readonly host: string;
  /** Power the host on through its BMC first. */
  readonly powerOn: boolean;
  /** Leave it disabled as a reserved spare instead of enabling it. */
  readonly asSpare: boolean;
  /** The start of the reason a spare is kept disabled with (`[evacuation] spare_reason_prefix`). */
  readonly spareReasonPrefix: string;
  /** Each wait (power, migrations cleaned up, service up) gives up after this long. */
  readonly waitTimeoutMs: number;
  readonly pollIntervalMs: number;
  readonly signal?: AbortSignal;
  /** Remove the host's storage blocklist (only with `storage` given, and only once it was power-cycled). */
  readonly unfenceStorage?: boolean;
  /** The operator says the host was power-cycled by other means (no BMC, or powered on by hand). */
  readonly powerCycled?: boolean;
}

/** The host's storage blocklist, for restore: what is listed now, and its removal. */
export interface StorageUnfence {
  /** The host's entries the osdmap lists now. */
  listed(signal?: AbortSignal): Promise<readonly string[]>;
  /** `blocklist rm` of the host's entries; returns those still listed after. */
  remove(signal?: AbortSignal): Promise<readonly string[]>;
}

export interface RestoreHostDeps {
  readonly compute: ComputeBackend;
  readonly fenceDriver: FenceDriver | null;
  readonly clock: Clock;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly progress: (line: string) => void;
  /** The host's storage fence, where it has storage_ips on a configured Ceph. */
  readonly storage?: StorageUnfence;
}

export interface RestoreHostResult {
  readonly host: string;
  readonly status: 'enabled' | 'spare';
  readonly durationMs: number;
}

/**
 * Brings a repaired host back in the order Nova accepts (nova-facts): its nova-compute restarts and cleans up
 * the evacuations (`done` → `completed`), then forced_down is unset, then the service reads up, then it is
 * enabled (or kept disabled as a spare). Each wait is bounded; on a timeout the error says what state the
 * host was left in, so no host stays forced down without someone knowing.
 */
export async function restoreHost(deps: RestoreHostDeps, opts: RestoreHostOptions): Promise<RestoreHostResult> {
  const started = deps.clock.now();
  const { compute, progress } = deps;
  let svc = await compute.host(opts.host);

  let cycled = opts.powerCycled === true;
  if (opts.unfenceStorage && !deps.storage) throw new CmphaError('restore_no_storage_fence', `${opts.host} has no storage fence (no storage_ips or no [ceph]): nothing to unfence`);
  if (opts.unfenceStorage && !opts.powerOn && !cycled) {
    throw new CmphaError('restore_not_power_cycled', `${opts.host}: the storage blocklist is removed only after a power-cycle: add --power-on (cmpha powers it on from off) or --power-cycled (you did)`);
  }

  if (opts.powerOn) {
    const driver = deps.fenceDriver;
    if (!driver || isUnfencedDevice(driver.kind)) throw new CmphaError('restore_no_bmc', `${opts.host} has no BMC driver that can power it on (driver ${driver?.kind ?? 'none'})`);
    const signal = opts.signal ?? AbortSignal.timeout(opts.waitTimeoutMs);
    const before = await driver.powerStatus(signal);
    if (before === 'off') cycled = true;
    if (before !== 'on') {
      await driver.powerOn(signal);
      progress(`${opts.host}: power on requested through ${driver.kind} BMC ${driver.target}`);
    }
    await waitUntil(deps, opts, 'the power to read on', async () => (await driver.powerStatus(AbortSignal.timeout(opts.waitTimeoutMs))) === 'on');
    progress(`${opts.host}: power reads on`);
  }

  // Before nova-compute starts: on Ceph it needs its librados client, which the blocklist refuses.
  if (deps.storage) {
    const listed = await deps.storage.listed(opts.signal);
    if (listed.length > 0 && opts.unfenceStorage) {
      if (!cycled) throw new CmphaError('restore_not_power_cycled', `${opts.host}: its power was already on, so cmpha did not see it power-cycled; the storage blocklist (${listed.join(', ')}) stays. Power-cycle it, or pass --power-cycled once you have`);
      const left = await deps.storage.remove(opts.signal);
      if (left.length > 0) throw new CmphaError('restore_unfence_failed', `${opts.host}: the osdmap still lists ${left.join(', ')} after blocklist rm`);
      progress(`${opts.host}: storage blocklist removed (${listed.join(', ')}); librbd's own exact-address entries expire by themselves`);
    } else if (listed.length > 0) {
      progress(`${opts.host}: its storage stays blocklisted (${listed.join(', ')}); add --unfence-storage once it was power-cycled, or its Ceph clients (nova-compute, new VMs) keep failing`);
    }
  }

  if (svc.isolated) {
    const isolated = svc;
    await waitUntil(deps, opts, 'its nova-compute to restart and clean up the evacuations', async () => {
      const notYet = await compute.endIsolation(isolated, { signal: opts.signal });
      if (notYet !== null) progress(`${opts.host}: ${notYet}`);
      return notYet === null;
    }, 'it is still forced down');
    progress(`${opts.host}: forced_down unset`);
  }

  await waitUntil(deps, opts, 'Nova to report its nova-compute up', async () => {
    svc = await compute.host(opts.host);
    return svc.state === 'up';
  }, `forced_down is unset but the service is down and ${svc.status}`);
  progress(`${opts.host}: nova-compute is up`);

  if (opts.asSpare) {
    const reason = `${opts.spareReasonPrefix} spare, returned by cmpha host restore ${new Date(deps.clock.now()).toISOString()}`;
    if (svc.status !== 'disabled' || !svc.marker.spare) await compute.disable(svc, reason, { signal: opts.signal });
    progress(`${opts.host}: kept disabled as a spare ("${reason}")`);
  } else {
    // Enabled only now that it reads up: enabling a down host leaves Placement's disabled trait behind.
    if (svc.status !== 'enabled') await compute.enable(svc, { signal: opts.signal });
    progress(`${opts.host}: enabled`);
  }
  return { host: opts.host, status: opts.asSpare ? 'spare' : 'enabled', durationMs: deps.clock.now() - started };
}


async function waitUntil(deps: RestoreHostDeps, opts: RestoreHostOptions, what: string, check: () => Promise<boolean>, leftAs?: string): Promise<void> {
  const deadline = deps.clock.now() + opts.waitTimeoutMs;
  for (;;) {
    if (await check()) return;
    if (deps.clock.now() >= deadline) {
      throw new CmphaError('restore_timeout', `${opts.host}: gave up waiting for ${what} after ${formatDuration(opts.waitTimeoutMs)}${leftAs ? `; ${leftAs}` : ''}`);
    }
    await deps.sleep(opts.pollIntervalMs, opts.signal);
  }
}
