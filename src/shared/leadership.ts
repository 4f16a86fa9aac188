import { CmphaError } from './errors.js';

/**
 * Whether this process may act now. The leader lease implements it with a fencing token: each acquisition
 * of the lease gets a strictly increasing epoch, and `assertLeading` checks in Redis, atomically, that the
 * lease still names this process with the epoch it acquired. Call it immediately before any action on a BMC
 * or on Nova: a leader that was paused past its lease and woke up after a standby took over then throws
 * instead of acting twice.
 */
export interface Leadership {
  /** Resolves when this process still leads; throws `deposed` (not retryable) when it does not, or `leadership_unknown` (retryable) when Redis cannot say. */
  assertLeading(signal?: AbortSignal): Promise<void>;
}

export const DEPOSED = 'deposed';
export const LEADERSHIP_UNKNOWN = 'leadership_unknown';

/** An error that means "this process must not act now": the job belongs to whoever leads. */
export function isLeadershipError(err: unknown): boolean {
  return err instanceof CmphaError && (err.code === DEPOSED || err.code === LEADERSHIP_UNKNOWN);
}
