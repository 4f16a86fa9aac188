import { setMaxListeners } from 'node:events';
import { FlowProducer, Queue, Worker } from 'bullmq';
import { networkConcurrency } from '../evacuator/verify-network.js';
import { IncidentStore } from '../incidents/incident-store.js';
import { createIncidentOpener } from '../incidents/opener.js';
import { CmphaError, errorMessage } from '../shared/errors.js';
import { createRedis } from '../shared/redis-connect.js';
import { sleep, systemClock } from '../shared/time.js';
import { abortWaitingIncident } from './host-came-back.js';
import { incidentSubmitter } from './incident-submitter.js';
import { createProcessors } from './processors.js';
import { queueTimings } from './queue-timings.js';
import { queueNames, type EvacuateJobData, type IncidentJobData } from './queues.js';
import { RedisStartGate } from './rate-gate.js';
import { renewStorageFences, watchAwaitingCapacity, watchQueueDepth } from './recovery-timers.js';
import { controllerName, isClosedRefusal, noteResumed } from './note-resumed.js';
import { resumeOrphanedJobs, superviseWorkers, type ResumedJob } from './resume.js';
import { jobOptions, type QueueKind } from './retry-policy.js';
import type { Recovery, RecoveryDeps } from './recovery-deps.js';
import { stepContextFactory } from './step-context-factory.js';
import { queueErrorLog, watchWorker } from './worker-watch.js';

export type { QueueTuning, RecoveryDeps, Recovery } from './recovery-deps.js';
export { QUEUE_DEFAULTS } from './queue-timings.js';


export function createRecovery(deps: RecoveryDeps): Recovery {
  const { config } = deps;
  const logger = deps.logger.child({ component: 'pipeline' });
  const clock = deps.clock ?? systemClock;
  const prefix = config.redis.prefix;
  const connection = deps.connection ?? createRedis({ ...config.redis, url: deps.redisUrl ?? config.redis.url }, { mode: 'queue', ...(deps.outage ? { outage: deps.outage } : {}) });
  const t = queueTimings(deps);
  const jobOpts = (queue: QueueKind) => jobOptions(queue, deps.queue);
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

  const submit = incidentSubmitter(incidentQueue, jobOpts('incident'));
  const store = new IncidentStore(connection, prefix, clock);
  // The recovery's own notes (resumed jobs, a recovery taken up) are a recovery's writes: refused when deposed
  // and on a closed incident.
  const recoveryStore = store.forRecovery(deps.leadership);
  const contextFor = stepContextFactory(deps, { store, gate, logger, clock, signal: stopping.signal, timings: t });
  const opener = createIncidentOpener({
    store, submit, onCreated: () => { deps.metrics?.incidentsOpened?.inc(); deps.metrics?.incidentsOpen?.inc(); },
    abortWaiting: (id, seen) => abortWaitingIncident(contextFor(id), seen),
  });
  const processors = createProcessors({ store, names, flows, finalizeQueue, jobOpts, contextFor });
  const watch = { logger, ...(deps.metrics ? { metrics: deps.metrics } : {}), onError: redisError, contextFor };
  const resumed = (jobs: readonly ResumedJob[]) => {
    if (jobs.length === 0) return;
    logger.warn({ resumed: jobs.length }, 'resumed jobs left by a worker that is gone');
    void noteResumed(recoveryStore, jobs).catch((err: unknown) => logger.warn({ err: errorMessage(err) }, 'cannot note the resumed jobs in the incidents'));
  };
  // Leading now (startWorkers is called when this process takes the lease): the jobs of whoever led before are
  // handed back at once, not when its "alive" mark or its job locks run out.
  const takeOver = async () => {
    if (deps.leadership) resumed(await resumeOrphanedJobs(connection, prefix, queues, { kind: 'all-but', ours: new Set(workers.map((w) => w.id)) }));
  };

  // An open recovery found when this controller starts or leads again was left by another one (stopped, crashed
  // or deposed): the incident's own record says it was taken up, not only the log.
  const takeUp = async (id: string, why: string) => {
    await recoveryStore.addTimeline(id, { step: 'resume', level: 'warning', message: `recovery resumed: controller ${controllerName()} ${why} with this incident open and takes it up where it stopped` })
      .catch((err: unknown) => isClosedRefusal(err) ? undefined : logger.warn({ incidentId: id, err: errorMessage(err) }, 'cannot note the resumed recovery in the incident'));
    await submit(id);
  };

  return {
    incidents: store,
    opener,
    submit,
    async startWorkers() {
      if (workers.length > 0) {
        // Leading again after a pause: take jobs again and pick up what the last leader left.
        await takeOver();
        for (const w of workers) w.resume();
        for (const id of await store.activeIds()) await takeUp(id, 'took the lead again');
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
      const supervision = superviseWorkers(connection, prefix, workers.map((w) => w.id), queues, resumed);
      timers.push(supervision.stop);
      await supervision.announced;
      await takeOver();
      for (const w of workers) w.run().catch((err: unknown) => logger.error({ err: errorMessage(err) }, 'queue worker stopped'));
      for (const id of await store.activeIds()) await takeUp(id, 'started');
      if (deps.metrics?.queueDepth) timers.push(watchQueueDepth(evacuateQueue, deps.metrics));
      if (deps.metrics?.instancesAwaitingCapacity) timers.push(watchAwaitingCapacity(store, deps.metrics));
      if (deps.renewStorageFence) timers.push(renewStorageFences(store, deps.renewStorageFence, deps.storageRenewEveryMs ?? 10 * 60_000, logger));
    },
    async pauseWorkers() {
      // Not waiting for running jobs: they stop at their next leadership check.
      await Promise.all(workers.map((w) => w.pause(true)));
    },
    async stop() {
      stopping.abort(new CmphaError('stopping', 'cmpha is stopping'));
      // The bound's timer is cancelled once the workers closed: left running it kept the process alive 10 s more.
      const closed = new AbortController();
      await Promise.race([Promise.all(workers.map((w) => w.close())), sleep(10_000, closed.signal).catch(() => {})]);
      closed.abort();
      await Promise.all(workers.map((w) => w.close(true)));
      for (const stopTimer of timers) await stopTimer();
      timers = [];
      await Promise.all([...queues.map((q) => q.close()), flows.close()]);
      if (!deps.connection) connection.disconnect();
    },
  };
}
