import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

// BullMQ frees a job whose worker died only once its lock expires and a stalled check runs after that
// (lock duration + up to a stalled interval, 30 s + 30 s by default). Every worker process therefore says it is
// alive under a short-lived key; a starting controller hands back at once the active jobs whose lock belongs to
// a worker that no longer says so, instead of waiting for the lock to expire.

const aliveKey = (prefix: string, workerId: string) => `${prefix}:worker-alive:${workerId}`;

/** Keeps `workerIds` marked alive until the returned function is called. */
export function announceWorkers(redis: Redis, prefix: string, workerIds: readonly string[], ttlMs: number): () => Promise<void> {
  const beat = async () => {
    const pipe = redis.pipeline();
    for (const id of workerIds) pipe.set(aliveKey(prefix, id), String(process.pid), 'PX', ttlMs);
    await pipe.exec();
  };
  void beat().catch(() => {});
  const timer = setInterval(() => { void beat().catch(() => {}); }, Math.max(100, Math.floor(ttlMs / 3)));
  timer.unref();
  return async () => {
    clearInterval(timer);
    if (workerIds.length > 0) await redis.del(...workerIds.map((id) => aliveKey(prefix, id))).catch(() => 0);
  };
}

/**
 * Moves back to waiting every active job of `queues` whose lock is held by a worker that is not alive (its
 * process was killed). A job held by a live worker, or whose lock already expired (BullMQ's own stalled check
 * takes it), is left alone. Returns how many jobs were handed back.
 */
export async function resumeOrphanedJobs(redis: Redis, prefix: string, queues: readonly Queue[]): Promise<number> {
  let resumed = 0;
  for (const q of queues) {
    for (const job of await q.getActive()) {
      if (!job.id) continue;
      const token = await redis.get(q.toKey(`${job.id}:lock`));
      if (!token) continue;
      const owner = token.split(':')[0]!;
      if (await redis.exists(aliveKey(prefix, owner))) continue;
      try {
        await job.moveToWait(token);
        resumed += 1;
      } catch {
        // The job moved on meanwhile (finished, or its lock was renewed): nothing to hand back.
      }
    }
  }
  return resumed;
}
