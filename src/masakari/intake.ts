import type { Redis } from 'ioredis';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { Outcome } from './recover-instance.js';

// PROCESS and VM notifications reach whichever replica serves the API; only the leader acts. The API queues the
// notification's id in Redis, and the leading controller takes them off, one at a time per notification (a
// server's own lock keeps two recoveries of it apart). A queued notification outlives a change of leader.

const key = (prefix: string) => `${prefix}:masakari:pending`;

export async function enqueue(redis: Redis, prefix: string, uuid: string): Promise<void> {
  await redis.rpush(key(prefix), uuid);
}

export interface IntakeDeps {
  readonly redis: Redis;
  readonly prefix: string;
  readonly isLeader: () => boolean;
  /** Acts on one notification; its outcome is written with `record`. */
  readonly handle: (uuid: string) => Promise<Outcome | null>;
  readonly record: (uuid: string, outcome: Outcome) => Promise<void>;
  readonly logger: Logger;
  readonly pollMs?: number;
}

/** The leader's loop over queued notifications. */
export function startIntake(deps: IntakeDeps): { stop(): Promise<void> } {
  const running = new Set<Promise<void>>();
  let stopped = false;
  const log = deps.logger.child({ component: 'masakari' });
  const drain = async () => {
    while (!stopped && deps.isLeader()) {
      const uuid = await deps.redis.lpop(key(deps.prefix));
      if (uuid === null) return;
      const job = deps.handle(uuid)
        .then(async (o) => { if (o) await deps.record(uuid, o); })
        .catch(async (err: unknown) => {
          log.error({ notification: uuid, err: errorMessage(err) }, 'Masakari notification not handled');
          await deps.record(uuid, { status: 'error', message: `cmpha could not handle it: ${errorMessage(err)}` }).catch(() => undefined);
        })
        .finally(() => { running.delete(job); });
      running.add(job);
    }
  };
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    drain().catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'cannot read queued Masakari notifications')).finally(() => { busy = false; });
  }, deps.pollMs ?? 500);
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await Promise.all([...running]);
    },
  };
}
