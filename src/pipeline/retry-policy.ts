import type { QueueTuning } from './recovery-deps.js';

export type QueueKind = 'incident' | 'evacuate' | 'network' | 'finalize';

export interface RetryPolicy {
  /** Tries per job; only a retryable error (shared/errors.ts isRetryable) is tried again. */
  readonly attempts: number;
  /** First retry delay; doubles each try. */
  readonly backoffMs: number;
}

/**
 * How each queue's jobs are retried, with why. The runner decides on the last try what is recorded (the
 * incident closed failed, or one server failed); these only say how long a passing fault is waited out.
 */
export const RETRY_POLICIES: Readonly<Record<QueueKind, RetryPolicy>> = {
  // Prepare (re-check, fence, force down, disable, inventory, spare): every step re-reads Nova and the record
  // before it acts, so a try redoes only what is missing. Six tries over about a minute ride out a Nova API or BMC
  // restart; past that the incident closes failed and pages, which beats a host left half-isolated for longer.
  incident: { attempts: 6, backoffMs: 1000 },
  // One server's evacuation: a try first asks Nova what became of the last request (never a second POST on a
  // guess). Six tries over about a minute; then that one server is recorded failed and paged, the others go on.
  evacuate: { attempts: 6, backoffMs: 1000 },
  // One server's network check: its own polling already waits up to verify_timeout, and a check that gives up is
  // looked at again before the incident closes; a try more costs little, so the same as an evacuation.
  network: { attempts: 6, backoffMs: 1000 },
  // Closing (leftovers, single writer, power watch, close, notify): giving up closes the incident failed and pages
  // for a recovery that may well have worked. The most tries, from a longer first delay (about four minutes in
  // all), so a Redis failover or a Nova outage at the very end is waited out.
  finalize: { attempts: 8, backoffMs: 2000 },
};

/** The queue's policy, unless the caller tuned attempts or backoff for every queue (tests, benchmarks). */
export function retryPolicy(queue: QueueKind, tuned: QueueTuning = {}): RetryPolicy {
  const p = RETRY_POLICIES[queue];
  return { attempts: tuned.attempts ?? p.attempts, backoffMs: tuned.backoffMs ?? p.backoffMs };
}

/** BullMQ job options of a queue: its retries, and how long finished jobs are kept. */
export function jobOptions(queue: QueueKind, tuned?: QueueTuning) {
  const p = retryPolicy(queue, tuned);
  return {
    attempts: p.attempts, backoff: { type: 'exponential' as const, delay: p.backoffMs },
    removeOnComplete: { age: 7 * 24 * 3600 }, removeOnFail: { age: 30 * 24 * 3600 },
  };
}
export type JobOptions = ReturnType<typeof jobOptions>;
