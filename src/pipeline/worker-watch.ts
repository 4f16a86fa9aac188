import type { Worker } from 'bullmq';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { isRedisConnectionError } from '../shared/redis-outage.js';
import type { RecoveryMetrics } from './metrics.js';
import type { IncidentJobData } from './queues.js';
import type { RecoveryDeps } from './recovery-deps.js';
import { recordStopped } from './runner.js';
import type { StepContext } from './steps/context.js';

/**
 * BullMQ prints a raw stack trace for every error of an object without an `error` listener; a Redis outage
 * makes dozens a second, so connection errors go to the outage log (one line per outage) instead.
 */
export function queueErrorLog(deps: RecoveryDeps, logger: Logger): (what: string) => (err: Error) => void {
  return (what) => (err) => {
    if (isRedisConnectionError(err)) deps.outage?.error(err);
    else logger.warn({ queue: what, err: errorMessage(err) }, 'queue error');
  };
}

export interface WorkerWatch {
  readonly logger: Logger;
  readonly metrics?: RecoveryMetrics;
  readonly onError: (what: string) => (err: Error) => void;
  readonly contextFor: (incidentId: string) => StepContext;
}

/**
 * Logs and counts a job that used its last attempt, and closes its incident if it has not ended (the runner
 * records its own give-ups; this is the net for a job the queue failed outside the processor). A job whose worker
 * died is never failed: maxStalledCount is unbounded, so BullMQ moves it back to waiting however often it stalls,
 * and resume.ts hands it back sooner.
 */
export function watchWorker(w: Worker, what: 'incident' | 'evacuate' | 'network' | 'finalize', env: WorkerWatch): void {
  const { logger } = env;
  w.on('error', env.onError(what));
  w.on('failed', (job, err) => {
    logger.error({ queue: what, jobId: job?.id, err: err.message }, 'job failed');
    // Counted once per job that gave up (not per attempt that will be retried).
    if (!job || (job.opts.attempts ?? 1) > job.attemptsMade) return;
    env.metrics?.jobsFailed?.inc({ queue: what });
    // A server's phase that gave up was recorded on its server; the incident goes on to finalize.
    if (what === 'evacuate' || what === 'network') return;
    const { incidentId } = job.data as IncidentJobData;
    recordStopped(env.contextFor(incidentId), err.message).catch((e: unknown) => logger.error({ err: errorMessage(e) }, 'could not record a failed job'));
  });
}
