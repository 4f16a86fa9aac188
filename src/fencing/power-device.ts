import { CmphaError, errorMessage } from '../shared/errors.js';
import { FenceCode } from './codes.js';
import type { DeviceAnswer, FenceDevice } from './device.js';
import { fenceHost, type FenceHostOptions } from './fence-host.js';
import type { FenceDriver, FenceResult } from './types.js';

/**
 * A power switch (a BMC, a PDU, an operator's command) as a fence device: src/fencing's fenceHost (power off,
 * read back off), a read-only power reading, and power on as the unfence.
 */
export function powerDevice(driver: FenceDriver, fence: (d: FenceDriver, o: FenceHostOptions) => Promise<FenceResult> = fenceHost): FenceDevice {
  return {
    kind: driver.kind,
    target: driver.target,
    power: driver,
    async fence(opts, emit) {
      const r = await fence(driver, { ...opts, onEvent: (e) => emit({ ...e }) });
      if (!r.ok) return { ok: false, code: r.code, reason: r.reason, lastState: r.lastState };
      return {
        ok: true, alreadyOff: r.alreadyOff, unfenced: r.unfenced, poweredOff: !r.unfenced,
        detail: r.unfenced ? `${driver.kind}: NOT powered off` : `power reads back off${r.alreadyOff ? ' (was already off)' : ''}`,
      };
    },
    read: (signal) => readPowerOnce(driver, signal),
    unfence: (signal) => driver.powerOn(signal),
  };
}

/** One power reading as an answer; never throws (a refused password is `reachable` but does not answer). */
export async function readPowerOnce(driver: FenceDriver, signal: AbortSignal): Promise<DeviceAnswer> {
  try {
    const reading = driver.readPower ? await driver.readPower(signal) : { state: await driver.powerStatus(signal), raw: '' };
    if (reading.state === 'unknown') {
      return { device: driver.kind, answers: false, reachable: true, power: 'unknown', code: FenceCode.stateUnknown, detail: `power state unreadable: ${reading.raw}` };
    }
    return { device: driver.kind, answers: true, reachable: true, power: reading.state, detail: `power ${reading.state}` };
  } catch (err) {
    const e = err instanceof CmphaError ? err : new CmphaError(FenceCode.error, errorMessage(err));
    return { device: driver.kind, answers: false, reachable: !silentCodes.has(e.code), code: e.code, detail: e.message, ...(e.retryable ? { retryable: true } : {}) };
  }
}

const silentCodes = new Set<string>([FenceCode.unreachable, FenceCode.timeout, FenceCode.aborted]);

