import { errorMessage } from '../shared/errors.js';
import { systemClock } from '../shared/time.js';
import type { StorageEvidence } from './ceph/storage-fence.js';
import { FenceCode } from './codes.js';
import type { DeviceResult, FenceDevice } from './device.js';
import type { FenceHostOptions } from './fence-host.js';
import type { FenceEvent, PowerState } from './types.js';

export type { DeviceFenceOptions, DeviceResult, FenceDevice } from './device.js';

/** A device type's name in src/fencing/devices/registry.ts. */
export type FenceDeviceKind = string;

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

/** Tries the plan's levels in order; see FencePlan. Never throws, except what the host's only device throws. */
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

  const onlyDevice = plan.levels.length === 1 && plan.levels[0]!.length === 1 && !plan.storage;
  const tryDevice = async (level: number, device: FenceDevice, alone: boolean): Promise<{ attempt: DeviceAttempt; result: DeviceResult }> => {
    const startedAt = clock.now();
    let result: DeviceResult;
    try {
      result = await device.fence({ ...opts, onEvent: undefined, alone }, emit);
    } catch (err) {
      // Devices never throw; one that does has a bug or its process is going down. With another device to try,
      // its level fails; when it is the host's only device, the error goes up as it is, so the job is retried
      // rather than the incident parked as "fence failed" on something that says nothing about the host.
      if (onlyDevice) throw err;
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
    emit({ kind: 'level', fenceLevel: level, detail: `level ${level} of ${plan.levels.length}: ${devices.map((d) => `${d.kind} ${d.target}`).join(' + ')}` });
    let ok = true;
    let alreadyOff = true;
    let unfenced = false;
    let poweredOff = false;
    for (const device of devices) {
      const { attempt, result } = await tryDevice(level, device, devices.length === 1);
      if (!result.ok) {
        ok = false;
        emit({ kind: 'error', code: result.code, fenceLevel: level, detail: `level ${level}: ${device.kind} ${device.target} failed: ${attempt.detail}` });
        break;
      }
      alreadyOff &&= result.alreadyOff;
      unfenced ||= result.unfenced;
      poweredOff ||= result.poweredOff;
    }
    if (!ok) continue;
    emit({ kind: 'level', fenceLevel: level, detail: `level ${level} confirmed: ${plan.host} is fenced by ${devices.map((d) => d.kind).join(' + ')}` });
    let storage: DeviceAttempt | undefined;
    if (plan.storage && !devices.includes(plan.storage) && !unfenced) {
      const { attempt } = await tryDevice(level, plan.storage, false);
      storage = attempt;
      if (!attempt.ok) emit({ kind: 'error', code: attempt.code, fenceLevel: level, detail: `storage fence after level ${level} failed (the host is fenced by level ${level}; warning only): ${attempt.detail}` });
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
