import { CmphaError, errorMessage } from '../shared/errors.js';
import { formatDuration } from '../shared/duration.js';
import { sleep, systemClock } from '../shared/time.js';
import { FenceCode } from './codes.js';
import { isUnfencedDevice } from './devices/registry.js';
import type { FenceDriver, FenceEvent, FenceHostOptions, FenceResult, PowerReading, PowerState } from './types.js';

export type { FenceHostOptions };

class DeadlineReached extends Error {}

/**
 * The fence step: read the power state; if it is off, done; otherwise power off and read the state until it
 * says off. Only an `off` read back from the BMC is success; `unknown`, a timeout, refused credentials or a silent
 * BMC end in `ok: false` with a stable code and a reason. Never throws. Running it again on a host that is off
 * reads `off` and sends nothing, so a retried or duplicated job does no harm.
 */
export async function fenceHost(driver: FenceDriver, opts: FenceHostOptions): Promise<FenceResult> {
  const clock = opts.clock ?? systemClock;
  const start = clock.now();
  const events: FenceEvent[] = [];
  const attempts = Math.max(1, Math.floor(opts.attempts));
  const deadline = AbortSignal.timeout(Math.max(0, opts.timeoutMs));
  const signal = opts.signal ? AbortSignal.any([opts.signal, deadline]) : deadline;
  let lastState: PowerState = 'unknown';
  let lastReading: PowerReading | undefined;
  let lastError: CmphaError | undefined;
  let powerOffSent = false;

  const emit = (e: Omit<FenceEvent, 'at'>) => {
    const event: FenceEvent = { at: clock.now(), ...e };
    events.push(event);
    try {
      opts.onEvent?.(event);
    } catch {
      // A failing observer must not change the outcome of a fence.
    }
  };
  const expired = () => deadline.aborted || clock.now() - start >= opts.timeoutMs;
  const checkTime = () => {
    if (opts.signal?.aborted) throw new CmphaError(FenceCode.aborted, 'fence cancelled');
    if (expired()) throw new DeadlineReached();
  };
  const pause = async () => {
    try {
      await sleep(opts.pollIntervalMs, signal);
    } catch {
      checkTime();
    }
  };

  const read = async (): Promise<PowerState> => {
    const reading = driver.readPower ? await driver.readPower(signal) : await plainReading(driver, signal);
    lastReading = reading;
    lastState = reading.state;
    emit({ kind: 'status', state: reading.state, detail: `${driver.target}: power ${reading.state} (${reading.raw})` });
    return reading.state;
  };

  /** Tries `fn` up to `attempts` times while it fails with a retryable error and time remains. */
  const withRetries = async <T>(what: string, fn: (attempt: number) => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      checkTime();
      try {
        return await fn(attempt);
      } catch (err) {
        const e = asFenceError(err, signal, opts.signal);
        if (e.code !== FenceCode.aborted) lastError = e;
        const retry = e.retryable && attempt < attempts && !expired();
        emit({ kind: 'error', code: e.code, attempt, detail: `${what} (try ${attempt} of ${attempts}): ${e.message}${retry ? '; trying again' : ''}` });
        if (!retry) throw e;
        await pause();
      }
    }
  };

  const done = (alreadyOff: boolean): FenceResult => ({
    ok: true, state: 'off', alreadyOff, unfenced: isUnfencedDevice(driver.kind), durationMs: clock.now() - start, events,
  });
  const failed = (code: string, reason: string): FenceResult => ({
    ok: false, code, reason, lastState, durationMs: clock.now() - start, events,
  });

  try {
    if (isUnfencedDevice(driver.kind)) {
      emit({ kind: 'error', code: 'unfenced', detail: `${driver.target}: ${driver.kind} fencing: the host was NOT powered off and may still be running` });
    }
    if ((await withRetries('read power state', read)) === 'off') return done(true);

    await withRetries('power off', async (attempt) => {
      emit({ kind: 'power-off', attempt, detail: `${driver.target}: power off requested (try ${attempt} of ${attempts})` });
      powerOffSent = true;
      await driver.powerOff(signal);
    });

    // The BMC acknowledging the request proves nothing: only a fresh reading of `off` does.
    for (let first = true; ; first = false) {
      if (!first) await pause();
      checkTime();
      try {
        if ((await read()) === 'off') return done(false);
      } catch (err) {
        const e = asFenceError(err, signal, opts.signal);
        if (e.code !== FenceCode.aborted) lastError = e;
        emit({ kind: 'error', code: e.code, detail: `read power state after power off: ${e.message}${e.retryable ? '; reading again' : ''}` });
        if (!e.retryable) throw e;
      }
    }
  } catch (err) {
    if (opts.signal?.aborted) return failed(FenceCode.aborted, `fence of ${driver.target} cancelled before the power read back off`);
    if (err instanceof DeadlineReached || (err instanceof CmphaError && err.code === FenceCode.aborted && deadline.aborted)) {
      return failed(...timeoutVerdict());
    }
    const e = err instanceof CmphaError ? err : new CmphaError(FenceCode.error, errorMessage(err));
    return failed(e.code, e.message);
  }

  function timeoutVerdict(): [string, string] {
    const after = formatDuration(opts.timeoutMs);
    if (lastState === 'on' && powerOffSent) {
      return [FenceCode.notOff, `${driver.target}: power off was accepted but the power still reads on after ${after}`];
    }
    if (lastReading && lastState === 'unknown') {
      return [FenceCode.stateUnknown, `${driver.target}: the power state could not be read as on or off within ${after} (BMC answered: ${lastReading.raw})`];
    }
    if (lastError) return [lastError.code, `${lastError.message} (gave up after ${after})`];
    return [FenceCode.notOff, `${driver.target}: the power did not read back off within ${after}`];
  }
}

async function plainReading(driver: FenceDriver, signal: AbortSignal): Promise<PowerReading> {
  const state = await driver.powerStatus(signal);
  return { state, raw: state };
}

function asFenceError(err: unknown, signal: AbortSignal, parent: AbortSignal | undefined): CmphaError {
  if (err instanceof CmphaError) return err;
  if (signal.aborted) {
    return new CmphaError(FenceCode.aborted, parent?.aborted ? 'fence cancelled' : 'fence deadline reached', { cause: err });
  }
  return new CmphaError(FenceCode.error, errorMessage(err), { cause: err });
}
