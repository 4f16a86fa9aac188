import type { Server, VolumeApi } from '../openstack/types.js';
import { errorMessage } from '../shared/errors.js';
import { systemClock } from '../shared/time.js';
import type { CephStorageFence, StorageEvidence } from './ceph/storage-fence.js';
import { StorageCode } from './ceph/storage-fence.js';
import { FenceCode } from './codes.js';
import { fenceHost, type FenceHostOptions } from './fence-host.js';
import type { FenceDriver, FenceEvent, FenceResult, PowerState } from './types.js';

export type FenceDeviceKind = 'ipmi' | 'redfish' | 'noop' | 'ceph';

export interface DeviceFenceOptions extends FenceHostOptions {
  /** The device is its level's only one: it must cut off every writer of the host by itself. */
  readonly alone: boolean;
}

export type DeviceResult =
  | { readonly ok: true; readonly alreadyOff: boolean; readonly unfenced: boolean; readonly poweredOff: boolean; readonly detail: string; readonly evidence?: StorageEvidence }
  | { readonly ok: false; readonly code: string; readonly reason: string; readonly lastState?: PowerState; readonly evidence?: StorageEvidence };

/** One way to cut a host off: its BMC (power) or its storage (blocklist). Never throws. */
export interface FenceDevice {
  readonly kind: FenceDeviceKind;
  /** Where it acts, for messages (never credentials). */
  readonly target: string;
  fence(opts: DeviceFenceOptions, emit: (e: Omit<FenceEvent, 'at'>) => void): Promise<DeviceResult>;
}

/**
 * A host's fencing topology, Pacemaker's semantics: levels in order; a level succeeds when every device in it
 * confirms; the first level that succeeds fences the host. `storage`, when set, is applied after a
 * successful level that did not already include it (a BMC that reads off while the host is not is covered);
 * its failure then only warns.
 */
export interface FencePlan {
  readonly host: string;
  readonly levels: readonly (readonly FenceDevice[])[];
  readonly storage?: FenceDevice;
}

/** One device's try within a level: what the incident timeline and `incidents show` carry. */
export interface DeviceAttempt {
  readonly level: number;
  readonly kind: FenceDeviceKind;
  readonly target: string;
  readonly ok: boolean;
  readonly code?: string;
  readonly detail: string;
  readonly startedAt: number;
  readonly durationMs: number;
  readonly evidence?: StorageEvidence;
}

export type FenceLevelsResult =
  | {
      readonly ok: true;
      /** 1-based level that fenced the host. */
      readonly level: number;
      readonly devices: readonly FenceDeviceKind[];
      readonly alreadyOff: boolean;
      readonly unfenced: boolean;
      /** A power device of the winning level read back off. */
      readonly poweredOff: boolean;
      readonly durationMs: number;
      readonly events: readonly FenceEvent[];
      readonly attempts: readonly DeviceAttempt[];
      /** The extra storage fence after a power-only level, when the plan has one. */
      readonly storage?: DeviceAttempt;
    }
  | {
      readonly ok: false;
      readonly code: string;
      readonly reason: string;
      readonly lastState: PowerState;
      readonly durationMs: number;
      readonly events: readonly FenceEvent[];
      readonly attempts: readonly DeviceAttempt[];
    };

/** The pipeline's fence function, given a plan instead of one driver. */
export type FenceLevelsFn = (plan: FencePlan, opts: FenceHostOptions) => Promise<FenceLevelsResult>;

/** Tries the plan's levels in order; see FencePlan. Never throws. */
export async function fenceLevels(plan: FencePlan, opts: FenceHostOptions): Promise<FenceLevelsResult> {
  const clock = opts.clock ?? systemClock;
  const start = clock.now();
  const events: FenceEvent[] = [];
  const attempts: DeviceAttempt[] = [];
  let lastState: PowerState = 'unknown';
  const emit = (e: Omit<FenceEvent, 'at'>) => {
    const event: FenceEvent = { at: clock.now(), ...e };
    events.push(event);
    try { opts.onEvent?.(event); } catch { /* an observer never changes a fence */ }
  };

  const tryDevice = async (level: number, device: FenceDevice, alone: boolean): Promise<{ attempt: DeviceAttempt; result: DeviceResult }> => {
    const startedAt = clock.now();
    let result: DeviceResult;
    try {
      result = await device.fence({ ...opts, onEvent: undefined, alone }, emit);
    } catch (err) {
      result = { ok: false, code: FenceCode.error, reason: errorMessage(err) };
    }
    if (!result.ok && result.lastState) lastState = result.lastState;
    const attempt: DeviceAttempt = {
      level, kind: device.kind, target: device.target, ok: result.ok,
      ...(result.ok ? {} : { code: result.code }),
      detail: result.ok ? result.detail : result.reason,
      startedAt, durationMs: clock.now() - startedAt,
      ...(result.evidence ? { evidence: result.evidence } : {}),
    };
    attempts.push(attempt);
    return { attempt, result };
  };

  if (plan.levels.length === 0) {
    return { ok: false, code: FenceCode.notConfigured, reason: `host ${plan.host} has no fence levels`, lastState, durationMs: 0, events, attempts };
  }

  for (const [i, devices] of plan.levels.entries()) {
    const level = i + 1;
    if (opts.signal?.aborted) break;
    emit({ kind: 'level', detail: `level ${level} of ${plan.levels.length}: ${devices.map((d) => `${d.kind} ${d.target}`).join(' + ')}` });
    let ok = true;
    let alreadyOff = true;
    let unfenced = false;
    let poweredOff = false;
    for (const device of devices) {
      const { attempt, result } = await tryDevice(level, device, devices.length === 1);
      if (!result.ok) {
        ok = false;
        emit({ kind: 'error', code: result.code, detail: `level ${level}: ${device.kind} ${device.target} failed: ${attempt.detail}` });
        break;
      }
      alreadyOff &&= result.alreadyOff;
      unfenced ||= result.unfenced;
      poweredOff ||= result.poweredOff;
    }
    if (!ok) continue;
    emit({ kind: 'level', detail: `level ${level} confirmed: ${plan.host} is fenced by ${devices.map((d) => d.kind).join(' + ')}` });
    let storage: DeviceAttempt | undefined;
    if (plan.storage && !devices.includes(plan.storage) && !unfenced) {
      const { attempt } = await tryDevice(level, plan.storage, false);
      storage = attempt;
      if (!attempt.ok) emit({ kind: 'error', code: attempt.code, detail: `storage fence after level ${level} failed (the host is fenced by level ${level}; warning only): ${attempt.detail}` });
    }
    return {
      ok: true, level, devices: devices.map((d) => d.kind), alreadyOff: alreadyOff && poweredOff, unfenced, poweredOff,
      durationMs: clock.now() - start, events, attempts, ...(storage ? { storage } : {}),
    };
  }

  const single = plan.levels.length === 1 && plan.levels[0]!.length === 1 ? attempts[0] : undefined;
  if (opts.signal?.aborted) {
    return { ok: false, code: FenceCode.aborted, reason: `fence of ${plan.host} cancelled`, lastState, durationMs: clock.now() - start, events, attempts };
  }
  if (single) return { ok: false, code: single.code ?? FenceCode.error, reason: single.detail, lastState, durationMs: clock.now() - start, events, attempts };
  const summary = plan.levels.map((_, i) => {
    const failed = attempts.find((a) => a.level === i + 1 && !a.ok);
    return `level ${i + 1} ${failed ? `${failed.kind} ${failed.code ?? ''}: ${failed.detail}` : 'not tried'}`;
  }).join('; ');
  return {
    ok: false, code: FenceCode.allLevelsFailed, reason: `every fence level of ${plan.host} failed (${summary})`,
    lastState, durationMs: clock.now() - start, events, attempts,
  };
}

/** A BMC as a fence device: src/fencing's fenceHost (power off, read back off). */
export function bmcDevice(driver: FenceDriver, fence: (d: FenceDriver, o: FenceHostOptions) => Promise<FenceResult> = fenceHost): FenceDevice {
  return {
    kind: driver.kind,
    target: driver.target,
    async fence(opts, emit) {
      const r = await fence(driver, { ...opts, onEvent: (e) => emit({ ...e }) });
      if (!r.ok) return { ok: false, code: r.code, reason: r.reason, lastState: r.lastState };
      return {
        ok: true, alreadyOff: r.alreadyOff, unfenced: r.unfenced, poweredOff: !r.unfenced,
        detail: r.unfenced ? 'noop: NOT powered off' : `power reads back off${r.alreadyOff ? ' (was already off)' : ''}`,
      };
    },
  };
}

/**
 * The host's storage as a fence device: whole-IP blocklist of its storage addresses, confirmed from the
 * osdmap and its servers' watchers (image-backed disks and attached RBD volumes). Alone in a level it also
 * requires every disk of every server on the host to be on this Ceph, or it fails naming the disk that is not.
 */
export function storageDevice(
  fence: CephStorageFence, ips: readonly string[], servers: (signal?: AbortSignal) => Promise<readonly Server[]>, volumes?: VolumeApi,
): FenceDevice {
  return {
    kind: 'ceph',
    target: `${fence.target} ${ips.join(',') || '(no storage_ips)'}`,
    async fence(opts, emit) {
      let disks;
      try {
        disks = await fence.hostDisks(await servers(opts.signal), volumes, opts.signal);
      } catch (err) {
        return { ok: false, code: (err as { code?: string }).code ?? StorageCode.unreachable, reason: `cannot list the host's disks: ${errorMessage(err)}` };
      }
      if (opts.alone && disks.uncovered.length > 0) {
        return {
          ok: false, code: StorageCode.notCovering,
          reason: `the storage fence alone cannot stop every writer: ${disks.uncovered.slice(0, 5).map((u) => u.reason).join('; ')}${disks.uncovered.length > 5 ? ` and ${disks.uncovered.length - 5} more` : ''}`,
        };
      }
      emit({ kind: 'blocklist', detail: `${fence.target}: blocklisting ${ips.map((ip) => `${ip}:0/0`).join(', ')} for ${fence.settings.expireS} s; ${disks.images.length} image(s) to check` });
      const r = await fence.fence(ips, disks.images, opts.signal);
      if (!r.ok) return { ok: false, code: r.code, reason: r.reason, ...(r.evidence ? { evidence: r.evidence } : {}) };
      const listed = Object.entries(r.evidence.listed).map(([a, until]) => `${a} until ${until}`).join(', ');
      return {
        ok: true, alreadyOff: false, unfenced: false, poweredOff: false, evidence: r.evidence,
        detail: `osdmap e${r.evidence.osdmapEpoch ?? '?'} lists ${listed}; no watcher of the host on its ${r.evidence.imagesChecked} image(s)`,
      };
    },
  };
}
