import { CmphaError, errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { sleep } from '../shared/time.js';
import type { RoundReport } from './types.js';

export interface DetectorLoopDeps {
  readonly signal: AbortSignal;
  /** Monotonic clock in ms. */
  readonly mono: () => number;
  readonly intervalMs: number;
  readonly probeIntervalMs: number;
  readonly runRound: (signal: AbortSignal) => Promise<RoundReport>;
  /** Null when there is no suspect to look at. */
  readonly runSuspectCheck: (signal: AbortSignal) => Promise<RoundReport | null>;
  /** Called after every full round that finished. */
  readonly finished: () => void;
  readonly onRound?: (report: RoundReport | null, error?: unknown) => void;
  readonly log: Logger;
}

/** A full round every interval, suspect checks in between, until `signal` aborts. */
export async function runDetectorLoop(deps: DetectorLoopDeps): Promise<void> {
  const { signal, mono, log } = deps;
  while (!signal.aborted) {
    const roundStart = mono();
    try {
      const report = await deps.runRound(signal);
      deps.finished();
      deps.onRound?.(report);
    } catch (err) {
      if (signal.aborted) break;
      deps.onRound?.(null, err);
      log.error({ err: errorMessage(err), code: err instanceof CmphaError ? err.code : undefined }, 'detector round failed');
    }
    try {
      await checkSuspectsUntilNextRound(deps, roundStart);
      await sleep(Math.max(0, deps.intervalMs - (mono() - roundStart)), signal);
    } catch {
      break;
    }
  }
}

/**
 * Until the next round, re-observes suspects every probe_interval; at least once after every round, so that
 * suspects keep a short cadence even when rounds take longer than the interval (large clouds).
 * Throws when `signal` aborts during a wait.
 */
async function checkSuspectsUntilNextRound(deps: DetectorLoopDeps, roundStart: number): Promise<void> {
  const { signal, mono, intervalMs, probeIntervalMs } = deps;
  let checked = false;
  while (!signal.aborted && (!checked || mono() - roundStart + probeIntervalMs < intervalMs)) {
    checked = true;
    const t = mono();
    let r: RoundReport | null = null;
    try {
      r = await deps.runSuspectCheck(signal);
      if (r) deps.onRound?.(r);
    } catch (err) {
      if (signal.aborted) return;
      deps.log.error({ err: errorMessage(err) }, 'suspect check failed');
    }
    if (!r) return;
    await sleep(Math.max(0, Math.min(probeIntervalMs, intervalMs - (mono() - roundStart)) - (mono() - t)), signal);
  }
}
