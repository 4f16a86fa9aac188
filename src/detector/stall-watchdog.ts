import type { NotificationEvent } from '../notifier/types.js';
import type { Logger } from '../shared/logger.js';

export interface StallWatchdogDeps {
  /** Monotonic clock in ms. */
  readonly mono: () => number;
  /** Wall clock in ms, for the page's time. */
  readonly now: () => number;
  /** Idle time after which the loop counts as stalled. */
  readonly stalledAfterMs: number;
  readonly checkEveryMs: number;
  readonly log: Logger;
  readonly page: (event: NotificationEvent) => Promise<void>;
}

export interface StallWatchdog {
  /** Call whenever a round finishes. */
  finished(): void;
  stop(): void;
}

/**
 * Pages once when the loop has finished no round for `stalledAfterMs`: a round that never ends (a Nova that
 * trickles its answer, a hung probe) must not go unnoticed. Says so in the log when rounds finish again.
 */
export function startStallWatchdog(deps: StallWatchdogDeps): StallWatchdog {
  const { mono, log } = deps;
  let lastFinished = mono();
  let stalledPaged = false;
  const timer = setInterval(() => {
    const idle = mono() - lastFinished;
    if (idle < deps.stalledAfterMs || stalledPaged) return;
    stalledPaged = true;
    log.error({ idleMs: Math.round(idle) }, 'detector has finished no round for a while: nothing is being watched');
    void deps.page({
      type: 'detector-stalled', severity: 'critical',
      summary: `cmpha's detector has finished no round for ${Math.round(idle / 1000)} s: no host is being watched`, at: deps.now(),
    });
  }, deps.checkEveryMs);
  timer.unref();
  return {
    finished() {
      lastFinished = mono();
      if (stalledPaged) log.info('detector rounds finish again');
      stalledPaged = false;
    },
    stop: () => clearInterval(timer),
  };
}
