import { CmphaError, errorMessage } from '../../shared/errors.js';
import { formatDuration } from '../../shared/duration.js';
import { note, type StepContext } from './context.js';

/** How long the evacuations wait for the scheduler in one attempt; the job's retry waits again after it. */
export const SCHEDULER_WAIT_MS = 5 * 60_000;

/**
 * Before the first evacuation: the cloud's scheduler answers (Nova: a nova-scheduler service reads up). Nova
 * accepts an evacuate while its scheduler is down and the request then fails on its way (even to a named host,
 * 2.29+, the scheduler checks the target), so every server would fail at once and the incident close partial.
 * Waiting keeps them pending: the host is fenced and isolated already, and the moves start when the scheduler
 * answers. Said once in the timeline when it waits and once when it answers again.
 */
export async function schedulerStep(ctx: StepContext, waitMs = SCHEDULER_WAIT_MS): Promise<void> {
  const ready = ctx.compute.schedulerReady;
  if (!ready) return;
  const start = ctx.clock.now();
  let waiting = false;
  for (;;) {
    let why: string | null;
    try {
      why = await ready(ctx.signal ? { signal: ctx.signal } : {});
    } catch (err) {
      if (ctx.signal?.aborted) throw err;
      why = `cannot ask the cloud whether its scheduler answers: ${errorMessage(err)}`;
    }
    if (why === null) {
      if (waiting) await note(ctx, 'scheduler', 'info', `the scheduler answers again after ${formatDuration(ctx.clock.now() - start)}: the evacuations start`);
      return;
    }
    if (!waiting) {
      await note(ctx, 'scheduler', 'warning', `the evacuations wait: ${why} (an evacuation needs the scheduler, even to a named host)`);
      waiting = true;
    }
    if (ctx.clock.now() - start >= waitMs) {
      throw new CmphaError('scheduler_down', `${why}: the evacuations did not start within ${formatDuration(waitMs)}; tried again`, { retryable: true });
    }
    await ctx.sleep(Math.min(ctx.evacuation.verifyPollIntervalMs * 5, 5000), ctx.signal);
  }
}
