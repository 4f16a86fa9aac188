import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { LeaderLease } from './lease.js';

export interface KeepLeaseOptions {
  /** False while this process should let its lease lapse (a detector that cannot see the cloud). Default: always true. */
  readonly mayHold?: () => boolean;
  readonly logger?: Logger;
  /** Default: a third of the lease, at least 500 ms. */
  readonly everyMs?: number;
}

/**
 * Renews a lease this process holds on a timer of its own, a third of the lease apart. Renewing it from the work
 * it guards (once per detector round) lets it lapse whenever one piece of that work is slow: one Nova read cut
 * at `api_timeout` (30 s, the default lease too) hands leadership to the standby and back. A lease that is not
 * held is not taken here: a standby takes over at its next round, the CLI when it starts.
 */
export function keepLease(lease: LeaderLease, opts: KeepLeaseOptions = {}): { stop(): void } {
  const everyMs = opts.everyMs ?? Math.max(500, Math.floor(lease.durationMs / 3));
  let pending: Promise<unknown> | null = null;
  let failing = false;
  const renew = () => {
    if (pending || !lease.isLeader || !(opts.mayHold?.() ?? true)) return;
    pending = lease.acquireOrRenew().then(() => {
      if (failing) opts.logger?.info('leader lease renewed again');
      failing = false;
    }, (err: unknown) => {
      // The lease already says "not leading" (acquireOrRenew lost it); said once per outage, not every tick.
      if (!failing) opts.logger?.warn({ err: errorMessage(err) }, 'cannot renew the leader lease');
      failing = true;
    }).finally(() => { pending = null; });
  };
  const timer = setInterval(renew, everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
