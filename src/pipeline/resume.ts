import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

// BullMQ frees a job whose worker died only once its lock expires and a stalled check runs after that
// (lock duration + up to two stalled intervals, 30 s + 60 s by default: the first check after the lock expired
// only marks the job, and a check another worker ran a moment ago makes the next one wait). Every worker therefore
// says it is alive under a key that lasts a few seconds; a running controller hands back the active jobs whose
// lock belongs to a worker that no longer says so, within seconds of its death instead of after the lock expires,
// and the jobs whose lock already expired at once. A controller that has just taken the leader lease hands back
// every job but its own workers' at once: whoever held them has lost the lease, and every action re-checks it.

const aliveKey = (prefix: string, workerId: string) => `${prefix}:worker-alive:${workerId}`;

/**
 * How long a worker's "alive" mark lasts without renewal, and how often it is renewed. The TTL is the trade:
 * shorter resumes sooner after a crash, but a live process stalled longer than it (event loop blocked, Redis
 * unreachable) would have its jobs handed to another worker while it still runs them.
 */
export const ALIVE_TTL_MS = 10_000;
const BEAT_MS = 2000;

/**
 * Keeps `workerIds` marked alive, and every beat hands back the jobs of workers that are not (a worker killed
 * a moment ago is still marked for up to ALIVE_TTL_MS, so one look at start would miss it). `announced` settles
 * once the first mark is written: start the workers only then.
 */
export function superviseWorkers(
  redis: Redis, prefix: string, workerIds: readonly string[], queues: readonly Queue[], onResumed: (jobs: readonly ResumedJob[]) => void,
): { readonly announced: Promise<void>; stop(): Promise<void> } {
  let stopped = false;
  const announce = async () => {
    const pipe = redis.pipeline();
    for (const id of workerIds) pipe.set(aliveKey(prefix, id), String(process.pid), 'PX', ALIVE_TTL_MS);
    await pipe.exec();
  };
  const beat = async () => {
    await announce();
    if (stopped) return;
    const jobs = await resumeOrphanedJobs(redis, prefix, queues);
    if (jobs.length > 0) onResumed(jobs);
  };
  const announced = announce();
  let running: Promise<void> = announced.then(beat).catch(() => {});
  const timer = setInterval(() => { running = running.then(beat).catch(() => {}); }, BEAT_MS);
  timer.unref();
  return {
    announced,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
      if (workerIds.length > 0) await redis.del(...workerIds.map((id) => aliveKey(prefix, id))).catch(() => 0);
    },
  };
}

/** A job handed back from a dead worker: its queue and what it was doing (its incident, its server). */
export interface ResumedJob {
  readonly queue: string;
  readonly incidentId?: string;
  readonly serverId?: string;
}

/** An expired lock is claimed under this owner for the moment of the hand-back (no worker has this id). */
const CLAIM_OWNER = 'cmpha-handback';
const CLAIM_MS = 5000;

/**
 * Which jobs to hand back: `dead-workers` (every beat) those held by a worker that is not marked alive;
 * `all-but` (right after taking the leader lease) those held by any worker but these, this process's own.
 * Jobs whose lock expired are handed back under both.
 */
export type HandBack = { readonly kind: 'dead-workers' } | { readonly kind: 'all-but'; readonly ours: ReadonlySet<string> };

/**
 * Moves back to waiting every active job of `queues` that `rule` names (see HandBack). A job whose lock expired
 * is first claimed with a lock of our own (only if still absent), so a job a live worker took meanwhile is never
 * taken from it. Returns the jobs handed back.
 */
export async function resumeOrphanedJobs(redis: Redis, prefix: string, queues: readonly Queue[], rule: HandBack = { kind: 'dead-workers' }): Promise<ResumedJob[]> {
  const resumed: ResumedJob[] = [];
  for (const q of queues) {
    for (const job of await q.getActive()) {
      if (!job.id) continue;
      const lockKey = q.toKey(`${job.id}:lock`);
      let token = await redis.get(lockKey);
      if (token) {
        const owner = token.split(':')[0]!;
        const orphaned = rule.kind === 'all-but' ? !rule.ours.has(owner) : !(await redis.exists(aliveKey(prefix, owner)));
        if (!orphaned) continue;
      } else {
        const claim = `${CLAIM_OWNER}:${randomUUID()}`;
        if ((await redis.set(lockKey, claim, 'PX', CLAIM_MS, 'NX')) !== 'OK') continue;
        token = claim;
      }
      try {
        await job.moveToWait(token);
        const data = (job.data ?? {}) as { incidentId?: unknown; serverId?: unknown };
        resumed.push({
          queue: q.name,
          ...(typeof data.incidentId === 'string' ? { incidentId: data.incidentId } : {}),
          ...(typeof data.serverId === 'string' ? { serverId: data.serverId } : {}),
        });
      } catch {
        // The job moved on meanwhile (finished, or its lock was renewed): nothing to hand back.
      }
    }
  }
  return resumed;
}
