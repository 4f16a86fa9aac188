import type { Queue } from 'bullmq';
import type { IncidentStore } from '../incidents/incident-store.js';
import { isTerminalStatus } from '../incidents/types.js';
import { errorMessage } from '../shared/errors.js';
import type { RecoveryMetrics } from './metrics.js';
import type { RecoveryDeps } from './recovery-deps.js';

/** Keeps each open incident's storage blocklist from expiring while the incident lasts. */
export function renewStorageFences(store: IncidentStore, renew: (host: string) => Promise<void>, everyMs: number, logger: RecoveryDeps['logger']): () => void {
  const timer = setInterval(() => {
    void (async () => {
      for (const id of await store.activeIds()) {
        const rec = await store.getRecord(id);
        if (!rec?.fence || isTerminalStatus(rec.status)) continue;
        await renew(rec.host).catch((err: unknown) => logger.warn({ host: rec.host, err: errorMessage(err) }, 'could not renew the storage blocklist'));
      }
    })().catch(() => {});
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** Keeps cmpha_instances_awaiting_capacity current: counted from the open incidents' entries, so a restart loses nothing. */
export function watchAwaitingCapacity(store: IncidentStore, metrics: RecoveryMetrics, everyMs = 5000): () => void {
  const timer = setInterval(() => {
    void (async () => {
      let n = 0;
      for (const id of await store.activeIds()) n += (await store.listInstances(id)).filter((e) => e.state === 'awaiting_capacity').length;
      metrics.instancesAwaitingCapacity?.set(n);
    })().catch(() => {});
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** Keeps cmpha_queue_depth current for the evacuation queue. */
export function watchQueueDepth(q: Queue, metrics: RecoveryMetrics): () => void {
  const timer = setInterval(() => {
    q.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized').then((c) => {
      metrics.queueDepth?.set({ state: 'waiting' }, (c.waiting ?? 0) + (c.prioritized ?? 0));
      for (const s of ['active', 'delayed', 'failed'] as const) metrics.queueDepth?.set({ state: s }, c[s] ?? 0);
    }).catch(() => {});
  }, 5000);
  timer.unref();
  return () => clearInterval(timer);
}
