import type { Logger } from '../shared/logger.js';
import { errorMessage } from '../shared/errors.js';
import { retryFence } from '../pipeline/retry-fence.js';
import { systemClock } from '../shared/time.js';
import type { RecoveryWorker } from './root.js';

/**
 * The leader reads the config again on its own timer; for each host whose fence settings changed (a BMC password
 * fixed in the file or its password_file), an incident that waits for a fence is tried again at once. `tick` is
 * the timer's one round (a test calls it).
 */
export function watchFenceSettings(recovery: RecoveryWorker, opts: { logger: Logger; everyMs: number; isLeader: () => boolean }): { tick(): Promise<string[]>; stop(): void } {
  let running: Promise<string[]> | null = null;
  const tick = (): Promise<string[]> => (running ??= (async () => {
    if (!opts.isLeader()) return [];
    const changed = await recovery.fencing.refresh();
    const retried: string[] = [];
    for (const host of changed) {
      const id = await recovery.incidents.openIncidentFor(host);
      const rec = id ? await recovery.incidents.getRecord(id) : null;
      if (rec?.status !== 'awaiting_fence') continue;
      try {
        await retryFence({ store: recovery.incidents, logger: opts.logger, clock: systemClock }, host, { by: 'cmpha', reason: 'its fence settings changed in the config' });
        await recovery.submit(rec.id);
        retried.push(host);
      } catch (err) {
        opts.logger.warn({ host, err: errorMessage(err) }, 'could not retry the fence after its settings changed');
      }
    }
    return retried;
  })().finally(() => { running = null; }));
  const timer = setInterval(() => { void tick().catch((err: unknown) => opts.logger.warn({ err: errorMessage(err) }, 'fence settings check failed')); }, opts.everyMs);
  timer.unref();
  return { tick, stop: () => clearInterval(timer) };
}
