import type { RecoveryDeps } from './recovery-deps.js';

/** Defaults of the queue timings; docs/operations.md says what they trade. */
export const QUEUE_DEFAULTS = { lockDurationMs: 30_000, stalledIntervalMs: 30_000 } as const;

/** The queue timings: the defaults, then `[redis]` job_lock/stalled_check, then what the caller tunes (retries: retry-policy.ts). */
export function queueTimings(deps: RecoveryDeps) {
  const r = deps.config.redis;
  return {
    ...QUEUE_DEFAULTS,
    ...(r.jobLockMs ? { lockDurationMs: r.jobLockMs } : {}),
    ...(r.stalledCheckMs ? { stalledIntervalMs: r.stalledCheckMs } : {}),
    ...deps.queue,
  };
}
export type QueueTimings = ReturnType<typeof queueTimings>;
