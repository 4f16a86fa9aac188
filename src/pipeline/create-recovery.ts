import { setMaxListeners } from 'node:events';
import { FlowProducer, Queue, Worker } from 'bullmq';
import { networkConcurrency } from '../evacuator/verify-network.js';
import { fenceHost as realFenceHost } from '../fencing/fence-host.js';
import { IncidentStore } from '../incidents/incident-store.js';
import { createIncidentOpener } from '../incidents/opener.js';
import { isTerminalStatus } from '../incidents/types.js';
import { CmphaError, errorMessage } from '../shared/errors.js';
import { createRedis } from '../shared/redis-connect.js';
import { isRedisConnectionError } from '../shared/redis-outage.js';
import type { Logger } from '../shared/logger.js';
import { sleep, systemClock, type Clock } from '../shared/time.js';
import type { RecoveryMetrics } from './metrics.js';
import { createProcessors } from './processors.js';
import { queueNames, type EvacuateJobData, type IncidentJobData } from './queues.js';
import { RedisStartGate } from './rate-gate.js';
import { superviseWorkers } from './resume.js';
import { recordStopped } from './runner.js';
import type { Recovery, RecoveryDeps } from './recovery-deps.js';
import type { StepContext } from './steps/context.js';

export type { QueueTuning, RecoveryDeps, Recovery } from './recovery-deps.js';

/** Defaults of the queue timings; docs/operations.md says what they trade. */
export const QUEUE_DEFAULTS = { lockDurationMs: 30_000, stalledIntervalMs: 30_000, attempts: 6, backoffMs: 1000 } as const;

/** The queue timings: the defaults, then `[redis]` job_lock/stalled_check, then what the caller tunes. */
function queueTimings(deps: RecoveryDeps) {
  const r = deps.config.redis;
  return {
    ...QUEUE_DEFAULTS,
    ...(r.jobLockMs ? { lockDurationMs: r.jobLockMs } : {}),
    ...(r.stalledCheckMs ? { stalledIntervalMs: r.stalledCheckMs } : {}),
    ...deps.queue,
  };
}
type QueueTimings = ReturnType<typeof queueTimings>;

/**
 * BullMQ prints a raw stack trace for every error of an object without an `error` listener; a Redis outage
 * makes dozens a second, so connection errors go to the outage log (one line per outage) instead.
 */
function queueErrorLog(deps: RecoveryDeps, logger: Logger): (what: string) => (err: Error) => void {
  return (what) => (err) => {
    if (isRedisConnectionError(err)) deps.outage?.error(err);
    else logger.warn({ queue: what, err: errorMessage(err) }, 'queue error');
  };
}

/** Queues an incident's recovery once: one job per incident id. */
function incidentSubmitter(incidentQueue: Queue<IncidentJobData>, jobOpts: Record<string, unknown>): (incidentId: string) => Promise<void> {
  return async (incidentId) => {
    const existing = await incidentQueue.getJob(incidentId);
    const state = existing ? await existing.getState() : undefined;
    // A job that ended while its incident stays open (failed, or waiting for a fence confirmation) runs again.
    if (existing && state === 'failed') await existing.retry('failed');
    else if (existing && state === 'completed') await existing.remove();
    if (existing && state !== 'completed') return;
    await incidentQueue.add('recover', { incidentId }, { ...jobOpts, jobId: incidentId });
  };
}

interface StepEnv {
  readonly store: IncidentStore;
  readonly gate: RedisStartGate;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly signal: AbortSignal;
  readonly timings: QueueTimings;
}

/** What every pipeline step of one incident gets. */
function stepContextFactory(deps: RecoveryDeps, env: StepEnv): (incidentId: string) => StepContext {
  const { config } = deps;
  const { store, gate, logger, clock, signal, timings: t } = env;
  return (incidentId) => ({
    incidentId, store, nova: deps.nova, ...(deps.placement ? { placement: deps.placement } : {}),
    ...(config.evacuation.verifyNetwork !== false && deps.neutron ? { neutron: deps.neutron } : {}),
    ...(config.evacuation.verifyNetwork !== false && deps.probe ? { probe: deps.probe } : {}),
    evacuation: config.evacuation, fencing: config.fencing, notifier: deps.notifier, isHostAlive: deps.isHostAlive,
    fenceDriverFor: deps.fenceDriverFor, fenceHost: deps.fenceHost ?? realFenceHost, gate,
    ...(deps.fencePlanFor ? { fencePlanFor: deps.fencePlanFor } : {}), ...(deps.fenceLevels ? { fenceLevels: deps.fenceLevels } : {}),
    ...(deps.singleWriter ? { singleWriter: deps.singleWriter } : {}),
    ...(deps.leadership ? { leadership: deps.leadership } : {}),
    logger: logger.child({ incidentId }), clock, sleep, metrics: deps.metrics, signal,
    ...(t.unknownSettleMs !== undefined ? { unknownSettleMs: t.unknownSettleMs } : {}),
  });
}

interface WorkerWatch {
  readonly logger: Logger;
  readonly metrics?: RecoveryMetrics;
  readonly onError: (what: string) => (err: Error) => void;
  readonly submit: (incidentId: string) => Promise<void>;
  readonly contextFor: (incidentId: string) => StepContext;
}

/** Logs and counts a job that gave up, and settles its incident: a stalled one is resumed, any other recorded as stopped. */
function watchWorker(w: Worker, what: 'incident' | 'evacuate' | 'network' | 'finalize', env: WorkerWatch): void {
  const { logger } = env;
  w.on('error', env.onError(what));
  w.on('failed', (job, err) => {
    logger.error({ queue: what, jobId: job?.id, err: err.message }, 'job failed');
    // Counted once per job that gave up (not per attempt that will be retried, not a stalled job, which is resumed).
    if (job && (job.opts.attempts ?? 1) <= job.attemptsMade && !/stalled/i.test(err.message)) env.metrics?.jobsFailed?.inc({ queue: what });
    if (!job || (job.opts.attempts ?? 1) > job.attemptsMade || what === 'evacuate' || what === 'network') return;
    const { incidentId } = job.data as IncidentJobData;
    // A stalled job is resumed, never failed: however often the controller restarts, the recovery goes on.
    const act = /stalled/i.test(err.message) ? env.submit(incidentId) : recordStopped(env.contextFor(incidentId), err.message);
    act.catch((e: unknown) => logger.error({ err: errorMessage(e) }, 'could not record a failed job'));
  });
}

export function createRecovery(deps: RecoveryDeps): Recovery {
  const { config } = deps;
  const logger = deps.logger.child({ component: 'pipeline' });
  const clock = deps.clock ?? systemClock;
  const prefix = config.redis.prefix;
  const connection = deps.connection ?? createRedis({ ...config.redis, url: deps.redisUrl ?? config.redis.url }, { mode: 'queue', ...(deps.outage ? { outage: deps.outage } : {}) });
  const t = queueTimings(deps);
  const jobOpts = {
    attempts: t.attempts, backoff: { type: 'exponential' as const, delay: t.backoffMs },
    removeOnComplete: { age: 7 * 24 * 3600 }, removeOnFail: { age: 30 * 24 * 3600 },
  };
  const names = queueNames(prefix);
  const incidentQueue = new Queue<IncidentJobData>(names.incident, { connection });
  const evacuateQueue = new Queue<EvacuateJobData>(names.evacuate, { connection });
  const networkQueue = new Queue<EvacuateJobData>(names.network, { connection });
  const finalizeQueue = new Queue<IncidentJobData>(names.finalize, { connection });
  const queues = [incidentQueue, evacuateQueue, networkQueue, finalizeQueue];
  const redisError = queueErrorLog(deps, logger);
  for (const q of queues) q.on('error', redisError(q.name));
  const flows = new FlowProducer({ connection });
  flows.on('error', redisError('flow'));
  const gate = new RedisStartGate(connection, {
    prefix, maxPerMinute: config.evacuation.maxPerMinute, staggerMs: config.evacuation.staggerMs, windowMs: t.rateWindowMs,
  });
  const stopping = new AbortController();
  // Every concurrent wait and Nova call listens on this one signal; hundreds at once are expected.
  setMaxListeners(0, stopping.signal);
  const workers: Worker[] = [];
  let timers: Array<() => Promise<void> | void> = [];

  const submit = incidentSubmitter(incidentQueue, jobOpts);
  const store = new IncidentStore(connection, prefix, clock);
  const opener = createIncidentOpener({
    store, submit, onCreated: () => { deps.metrics?.incidentsOpened?.inc(); deps.metrics?.incidentsOpen?.inc(); },
  });
  const contextFor = stepContextFactory(deps, { store, gate, logger, clock, signal: stopping.signal, timings: t });
  const processors = createProcessors({ store, names, flows, finalizeQueue, jobOpts, contextFor });
  const watch = { logger, ...(deps.metrics ? { metrics: deps.metrics } : {}), onError: redisError, submit, contextFor };

  return {
    incidents: store,
    opener,
    submit,
    async startWorkers() {
      if (workers.length > 0) {
        // Leading again after a pause: take jobs again and pick up what the last leader left.
        for (const w of workers) w.resume();
        for (const id of await store.activeIds()) await submit(id);
        return;
      }
      // `concurrency` is global: evacuations in flight across every incident of every replica.
      await evacuateQueue.setGlobalConcurrency(config.evacuation.concurrency);
      // Network verification has its own global limit: a slow guest must not hold an evacuation slot.
      await networkQueue.setGlobalConcurrency(networkConcurrency(config.evacuation));
      // Not started until they are marked alive: another replica would hand back a job whose owner it cannot see.
      const workerOpts = { connection, autorun: false, lockDuration: t.lockDurationMs, stalledInterval: t.stalledIntervalMs, maxStalledCount: Number.MAX_SAFE_INTEGER };
      const wi = new Worker<IncidentJobData>(names.incident, processors.incident, { ...workerOpts, concurrency: t.incidentConcurrency ?? 16 });
      const we = new Worker<EvacuateJobData>(names.evacuate, processors.evacuate, { ...workerOpts, concurrency: config.evacuation.concurrency });
      const wn = new Worker<EvacuateJobData>(names.network, processors.network, { ...workerOpts, concurrency: networkConcurrency(config.evacuation) });
      const wf = new Worker<IncidentJobData>(names.finalize, processors.finalize, { ...workerOpts, concurrency: 8 });
      watchWorker(wi, 'incident', watch);
      watchWorker(we, 'evacuate', watch);
      watchWorker(wn, 'network', watch);
      watchWorker(wf, 'finalize', watch);
      workers.push(wi, we, wn, wf);
      const supervision = superviseWorkers(connection, prefix, workers.map((w) => w.id), queues,
        (resumed) => logger.warn({ resumed }, 'resumed jobs left by a worker that is gone'));
      timers.push(supervision.stop);
      await supervision.announced;
      for (const w of workers) w.run().catch((err: unknown) => logger.error({ err: errorMessage(err) }, 'queue worker stopped'));
      for (const id of await store.activeIds()) await submit(id);
      if (deps.metrics?.queueDepth) timers.push(watchQueueDepth(evacuateQueue, deps.metrics));
      if (deps.renewStorageFence) timers.push(renewStorageFences(store, deps.renewStorageFence, deps.storageRenewEveryMs ?? 10 * 60_000, logger));
    },
    async pauseWorkers() {
      // Not waiting for running jobs: they stop at their next leadership check.
      await Promise.all(workers.map((w) => w.pause(true)));
    },
    async stop() {
      stopping.abort(new CmphaError('stopping', 'cmpha is stopping'));
      await Promise.race([Promise.all(workers.map((w) => w.close())), sleep(10_000)]);
      await Promise.all(workers.map((w) => w.close(true)));
      for (const stopTimer of timers) await stopTimer();
      timers = [];
      await Promise.all([...queues.map((q) => q.close()), flows.close()]);
      if (!deps.connection) connection.disconnect();
    },
  };
}

/** Keeps each open incident's storage blocklist from expiring while the incident lasts. */
function renewStorageFences(store: IncidentStore, renew: (host: string) => Promise<void>, everyMs: number, logger: RecoveryDeps['logger']): () => void {
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

function watchQueueDepth(q: Queue, metrics: RecoveryMetrics): () => void {
  const timer = setInterval(() => {
    q.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized').then((c) => {
      metrics.queueDepth?.set({ state: 'waiting' }, (c.waiting ?? 0) + (c.prioritized ?? 0));
      for (const s of ['active', 'delayed', 'failed'] as const) metrics.queueDepth?.set({ state: s }, c[s] ?? 0);
    }).catch(() => {});
  }, 5000);
  timer.unref();
  return () => clearInterval(timer);
}
