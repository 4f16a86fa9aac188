import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { keepLease } from './keep-lease.js';
import type { LeaderLease } from './lease.js';

/** The workers that only the leader runs (the recovery pipeline's). */
export interface LeaderWorkers {
  startWorkers(): Promise<void>;
  pauseWorkers(): Promise<void>;
}

/** Workers run while this process leads and pause when it stops leading; `settled` waits for the last switch. */
export function followLeadership(lease: LeaderLease, workers: LeaderWorkers, logger: Logger): { settled: () => Promise<void> } {
  let roleChange: Promise<void> = Promise.resolve();
  lease.onChange((leading) => {
    roleChange = roleChange.then(() => (leading ? workers.startWorkers() : workers.pauseWorkers())).catch((err: unknown) => {
      logger.error({ err: errorMessage(err) }, leading ? 'cannot start the recovery workers' : 'cannot pause the recovery workers');
    });
  });
  return { settled: () => roleChange };
}

export interface LeadForCommand {
  readonly leading: boolean;
  /** The controller that leads, when it is not this process. */
  readonly holder?: string;
  release(): Promise<void>;
}

/**
 * Takes the leader lease only when no controller holds it, then runs the workers and renews the lease as
 * `cmpha run` does (a controller starting meanwhile stays standby). Under a leader the workers stay stopped: the
 * work goes on the shared queue and the leader's workers run it.
 */
export async function leadIfNoneLeads(lease: LeaderLease, workers: LeaderWorkers, logger: Logger): Promise<LeadForCommand> {
  if (!(await lease.acquireOrRenew())) {
    return { leading: false, holder: (await lease.holder()) ?? 'unknown', release: async () => undefined };
  }
  const follow = followLeadership(lease, workers, logger);
  const keeper = keepLease(lease, { logger });
  await workers.startWorkers();
  return {
    leading: true,
    async release() {
      keeper.stop();
      await lease.release().catch(() => undefined);
      await follow.settled();
    },
  };
}
