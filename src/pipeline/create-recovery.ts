import { setMaxListeners } from 'node:events';
import { DelayedError, FlowProducer, Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config/types.js';
import { recoverServer } from '../evacuator/recover-server.js';
import type { EvacuatorDeps } from '../evacuator/types.js';
import { verifyServer } from '../evacuator/verify-server.js';
import { fenceHost as realFenceHost } from '../fencing/fence-host.js';
import type { FenceDriver } from '../fencing/types.js';
import { IncidentStore, type OpenResult } from '../incidents/incident-store.js';
import { isFinalInstanceState, isTerminalStatus, type OpenIncidentRequest } from '../incidents/types.js';
import type { NotificationService } from '../notifier/types.js';
import type { NovaApi, PlacementApi } from '../openstack/types.js';
import { CmphaError, errorMessage, isRetryable } from '../shared/errors.js';
import { isLeadershipError, type Leadership } from '../shared/leadership.js';
import { createRedis } from '../shared/redis-connect.js';
import { isRedisConnectionError, type RedisOutageLog } from '../shared/redis-outage.js';
import type { Logger } from '../shared/logger.js';
import { sleep, systemClock, type Clock } from '../shared/time.js';
import type { RecoveryMetrics } from './metrics.js';
import { prepareIncident } from './prepare-incident.js';
import { evacuateJobId, queueNames, type EvacuateJobData, type IncidentJobData } from './queues.js';
import { RedisStartGate } from './rate-gate.js';
import type { StepContext } from './steps/context.js';
import type { FenceHostFn } from './steps/fence.js';
import { closeEarly, finalizeStep } from './steps/finalize.js';
import { reassertDownStep } from './steps/reassert-down.js';
import type { HostAliveCheck } from './steps/recheck-alive.js';

export interface QueueTuning {
  /** How long a worker's claim on a job lasts without renewal; a killed worker's job moves on after it. */
  readonly lockDurationMs?: number;
  readonly stalledIntervalMs?: number;
  /** Tries per job (retryable errors only). */
  readonly attempts?: number;
  /** First retry delay; doubles each try. */
  readonly backoffMs?: number;
  /** Incidents prepared in parallel by one worker process. */
  readonly incidentConcurrency?: number;
  /** See EvacuatorDeps.unknownSettleMs. */
  readonly unknownSettleMs?: number;
  /** The rate limit's window (a minute unless a test shortens it). */
  readonly rateWindowMs?: number;
}

export interface RecoveryDeps {
  readonly config: Config;
  /** An ioredis connection made with `maxRetriesPerRequest: null`; or give `redisUrl`. */
  readonly connection?: Redis;
  readonly redisUrl?: string;
  readonly nova: NovaApi;
  /** Spare capacity from Placement (asked first: it knows the allocation ratios); the hypervisor's figures otherwise. */
  readonly placement?: PlacementApi;
  readonly fenceDriverFor: (host: string) => FenceDriver | null;
  readonly notifier: NotificationService;
  readonly isHostAlive: HostAliveCheck;
  readonly metrics?: RecoveryMetrics;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** src/fencing's fenceHost unless a test replaces it. */
  readonly fenceHost?: FenceHostFn;
  readonly queue?: QueueTuning;
  /** Checked before every action and close (see StepContext.leadership); without it this process always acts. */
  readonly leadership?: Leadership;
  /** Where Redis connection errors of the queues and workers go (one line per outage, not one per error). */
  readonly outage?: RedisOutageLog;
}

/** The incident store as the detector and the CLI see it: opening an incident also queues its recovery. */
export class RecoveryIncidents extends IncidentStore {
  constructor(redis: Redis, prefix: string, clock: Clock, private readonly onCreated: (id: string, created: boolean) => Promise<void>) {
    super(redis, prefix, clock);
  }

  override async create(req: OpenIncidentRequest, opts?: Parameters<IncidentStore['create']>[1]): Promise<OpenResult> {
    const r = await super.create(req, opts);
    // Re-submitting an existing id is harmless (one job per id) and heals a crash between create and submit.
    if (r.created || r.reason === 'exists') await this.onCreated(req.id, r.created);
    return r;
  }
}

export interface Recovery {
  readonly incidents: RecoveryIncidents;
  /** Starts (or resumes) the workers and re-queues every incident left open by a previous run or another leader. */
  startWorkers(): Promise<void>;
  /** Stops taking jobs (a standby's workers take none); jobs already running stop at their next leadership check. */
  pauseWorkers(): Promise<void>;
  /** Queues the recovery of an incident (idempotent: one job per incident id). */
  submit(incidentId: string): Promise<void>;
  stop(): Promise<void>;
}

export function createRecovery(deps: RecoveryDeps): Recovery {
  const { config, logger: baseLogger } = deps;
  const logger = baseLogger.child({ component: 'pipeline' });
  const clock = deps.clock ?? systemClock;
  const prefix = config.redis.prefix;
  const ownConnection = !deps.connection;
  const connection = deps.connection ?? createRedis({ ...config.redis, url: deps.redisUrl ?? config.redis.url }, { mode: 'queue', ...(deps.outage ? { outage: deps.outage } : {}) });
  const tuning = deps.queue ?? {};
  const attempts = tuning.attempts ?? 6;
  const backoff = { type: 'exponential' as const, delay: tuning.backoffMs ?? 1000 };
  const keep = { removeOnComplete: { age: 7 * 24 * 3600 }, removeOnFail: { age: 30 * 24 * 3600 } };
  const names = queueNames(prefix);
  const incidentQueue = new Queue<IncidentJobData>(names.incident, { connection });
  const evacuateQueue = new Queue<EvacuateJobData>(names.evacuate, { connection });
  const finalizeQueue = new Queue<IncidentJobData>(names.finalize, { connection });
  const flows = new FlowProducer({ connection });
  // BullMQ prints a raw stack trace for every error of an object without an `error` listener.
  const redisError = (what: string) => (err: Error) => {
    if (isRedisConnectionError(err)) deps.outage?.error(err);
    else logger.warn({ queue: what, err: err.message }, 'queue error');
  };
  incidentQueue.on('error', redisError('incident'));
  evacuateQueue.on('error', redisError('evacuate'));
  finalizeQueue.on('error', redisError('finalize'));
  flows.on('error', redisError('flow'));
  const fenceHost = deps.fenceHost ?? realFenceHost;
  const gate = new RedisStartGate(connection, {
    prefix, maxPerMinute: config.evacuation.maxPerMinute, staggerMs: config.evacuation.staggerMs, windowMs: tuning.rateWindowMs,
  });
  const stopping = new AbortController();
  // Every concurrent wait and Nova call listens on this one signal; hundreds at once are expected.
  setMaxListeners(0, stopping.signal);
  const workers: Worker[] = [];
  let depthTimer: NodeJS.Timeout | undefined;

  const submit = async (incidentId: string): Promise<void> => {
    const existing = await incidentQueue.getJob(incidentId);
    if (existing) {
      // A job that gave up (e.g. stalled too often) would block its id forever: run it again.
      if ((await existing.getState()) === 'failed') await existing.retry('failed');
      return;
    }
    await incidentQueue.add('recover', { incidentId }, { jobId: incidentId, attempts, backoff, ...keep });
  };

  const incidents = new RecoveryIncidents(connection, prefix, clock, async (id, created) => {
    if (created) {
      deps.metrics?.incidentsOpened?.inc();
      deps.metrics?.incidentsOpen?.inc();
    }
    await submit(id);
  });

  const ctxFor = (incidentId: string): StepContext => ({
    incidentId, store: incidents, nova: deps.nova, ...(deps.placement ? { placement: deps.placement } : {}), evacuation: config.evacuation, fencing: config.fencing,
    logger: logger.child({ incidentId }), clock, metrics: deps.metrics, signal: stopping.signal,
    ...(deps.leadership ? { leadership: deps.leadership } : {}),
  });

  const evacDeps = (ctx: StepContext): EvacuatorDeps => ({
    nova: deps.nova, store: incidents, config: config.evacuation, gate, logger: ctx.logger, clock,
    sleep, metrics: deps.metrics, unknownSettleMs: tuning.unknownSettleMs,
    forceDown: () => reassertDownStep(ctx),
  });

  const isFinalAttempt = (job: Job, err: unknown) => !isRetryable(err) || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);

  const processIncident = async (job: Job<IncidentJobData>): Promise<string> => {
    const ctx = ctxFor(job.data.incidentId);
    const rec = await incidents.getRecord(ctx.incidentId);
    if (!rec) throw new UnrecoverableError(`incident ${ctx.incidentId} does not exist`);
    if (isTerminalStatus(rec.status)) return rec.status;
    let prepared;
    try {
      prepared = await prepareIncident(ctx, {
        isHostAlive: deps.isHostAlive, fenceDriver: deps.fenceDriverFor(rec.host), fenceHost, notifier: deps.notifier,
      });
    } catch (err) {
      if (stopping.signal.aborted || isLeadershipError(err)) throw err;
      ctx.logger.warn({ err: errorMessage(err), attempt: job.attemptsMade + 1 }, 'incident step failed');
      if (!isFinalAttempt(job, err)) throw err;
      await closeEarly(ctx, deps.notifier, {
        status: 'failed', code: err instanceof CmphaError ? err.code : 'internal_error', severity: 'critical', event: 'incident-failed',
        reason: `recovery of ${rec.host} gave up after ${job.attemptsMade + 1} attempt(s): ${errorMessage(err)}`,
      });
      throw new UnrecoverableError(errorMessage(err));
    }
    if (prepared.kind === 'closed') return prepared.status;
    if (await finalizeQueue.getJob(ctx.incidentId)) return 'evacuating';
    const childOpts = { attempts, backoff, ignoreDependencyOnFailure: true, ...keep };
    await flows.add({
      name: 'finalize', queueName: names.finalize, data: { incidentId: ctx.incidentId },
      opts: { jobId: ctx.incidentId, attempts, backoff, ...keep },
      children: prepared.serverIds.map((serverId, i) => ({
        name: 'evacuate', queueName: names.evacuate, data: { incidentId: ctx.incidentId, serverId },
        // Lower number runs first in BullMQ: the list is already highest priority first.
        opts: { ...childOpts, jobId: evacuateJobId(ctx.incidentId, serverId), priority: Math.min(i + 1, 2_097_152) },
      })),
    });
    return 'evacuating';
  };

  const processEvacuate = async (job: Job<EvacuateJobData>): Promise<string> => {
    const { incidentId, serverId } = job.data;
    const ctx = ctxFor(incidentId);
    const rec = await incidents.require(incidentId);
    if (isTerminalStatus(rec.status)) return 'closed';
    const d = evacDeps(ctx);
    try {
      return (await recoverServer(d, rec, serverId, stopping.signal)).state;
    } catch (err) {
      if (stopping.signal.aborted || isLeadershipError(err)) throw err;
      ctx.logger.warn({ serverId, err: errorMessage(err), attempt: job.attemptsMade + 1 }, 'evacuation attempt failed');
      if (!isFinalAttempt(job, err)) throw err;
      const e = await incidents.updateInstance(incidentId, serverId, (x) => (isFinalInstanceState(x.state) || x.state === 'evacuated' || x.state === 'evacuating'
        ? undefined : { ...x, state: 'failed', error: errorMessage(err), finishedAt: clock.now() }));
      await incidents.addTimeline(incidentId, { step: 'evacuate', level: 'critical', serverId, message: `${e.name}: gave up after ${job.attemptsMade + 1} attempt(s): ${errorMessage(err)}` });
      throw new UnrecoverableError(errorMessage(err));
    }
  };

  const processFinalize = async (job: Job<IncidentJobData>): Promise<string> => {
    const ctx = ctxFor(job.data.incidentId);
    // Before anything is marked failed: a deposed leader's last attempt is not the incident's.
    await ctx.leadership?.assertLeading(ctx.signal);
    const rec = await incidents.require(ctx.incidentId);
    if (!isTerminalStatus(rec.status)) {
      await incidents.update(ctx.incidentId, (r) => (r.status === 'evacuating' ? { ...r, status: 'verifying' } : undefined));
      const final = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      const d = evacDeps(ctx);
      for (const e of await incidents.listInstances(ctx.incidentId)) {
        if (isFinalInstanceState(e.state)) continue;
        // A child that gave up, or died after its POST: find out from Nova how that server ended.
        if ((e.state === 'evacuated' || e.state === 'evacuating') && !final) await verifyServer(d, rec, e.id, stopping.signal);
        else {
          await incidents.updateInstance(ctx.incidentId, e.id, (x) => (isFinalInstanceState(x.state) ? undefined
            : { ...x, state: 'failed', error: x.error ?? `evacuation did not finish (left ${x.state})`, finishedAt: clock.now() }));
        }
      }
    }
    const closed = await finalizeStep(ctx, deps.notifier);
    return closed.status;
  };

  // A job that finds this process not leading goes back to the queue untouched (no attempt used, nothing
  // recorded on the incident): it belongs to the leader. If the lock is already gone, the leader has it.
  const leaderOnly = <T>(fn: (job: Job<T>) => Promise<string>) => async (job: Job<T>, token?: string): Promise<string> => {
    try {
      return await fn(job);
    } catch (err) {
      if (!isLeadershipError(err) || !token) throw err;
      logger.warn({ jobId: job.id, err: errorMessage(err) }, 'not leading: leaving the job to the leader');
      await job.moveToDelayed(Date.now() + 1000, token).catch(() => undefined);
      throw new DelayedError();
    }
  };

  const workerOpts = {
    connection,
    lockDuration: tuning.lockDurationMs ?? 30_000,
    stalledInterval: tuning.stalledIntervalMs ?? 30_000,
    maxStalledCount: 3,
  };

  const watchFailures = (w: Worker, what: string) => {
    w.on('failed', (job, err) => {
      logger.error({ queue: what, jobId: job?.id, err: err.message }, 'job failed');
      // Net under the processors: a job that died without closing its incident (stalled too often) still pages.
      if (!job || (job.opts.attempts ?? 1) > job.attemptsMade || what === 'evacuate') return;
      const incidentId = (job.data as IncidentJobData).incidentId;
      void (async () => {
        const rec = await incidents.getRecord(incidentId);
        if (!rec || isTerminalStatus(rec.status)) return;
        await closeEarly(ctxFor(incidentId), deps.notifier, {
          status: 'failed', code: 'job_failed', severity: 'critical', event: 'incident-failed',
          reason: `recovery of ${rec.host} stopped: ${err.message}`,
        });
      })().catch((e: unknown) => logger.error({ err: errorMessage(e) }, 'could not record a failed job'));
    });
    w.on('error', redisError(what));
  };

  return {
    incidents,
    submit,
    async startWorkers() {
      if (workers.length > 0) {
        for (const w of workers) w.resume();
        for (const id of await incidents.activeIds()) await submit(id);
        return;
      }
      await evacuateQueue.setGlobalConcurrency(config.evacuation.concurrency);
      const wi = new Worker<IncidentJobData>(names.incident, leaderOnly(processIncident), { ...workerOpts, concurrency: tuning.incidentConcurrency ?? 16 });
      const we = new Worker<EvacuateJobData>(names.evacuate, leaderOnly(processEvacuate), { ...workerOpts, concurrency: config.evacuation.concurrency });
      const wf = new Worker<IncidentJobData>(names.finalize, leaderOnly(processFinalize), { ...workerOpts, concurrency: 8 });
      watchFailures(wi, 'incident');
      watchFailures(we, 'evacuate');
      watchFailures(wf, 'finalize');
      workers.push(wi, we, wf);
      for (const id of await incidents.activeIds()) await submit(id);
      if (deps.metrics?.queueDepth) {
        depthTimer = setInterval(() => {
          evacuateQueue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized').then((c) => {
            deps.metrics?.queueDepth?.set({ state: 'waiting' }, (c.waiting ?? 0) + (c.prioritized ?? 0));
            for (const s of ['active', 'delayed', 'failed'] as const) deps.metrics?.queueDepth?.set({ state: s }, c[s] ?? 0);
          }).catch(() => {});
        }, 5000);
        depthTimer.unref();
      }
    },
    async pauseWorkers() {
      // Not waiting for running jobs: they stop at their next leadership check.
      await Promise.all(workers.map((w) => w.pause(true)));
    },
    async stop() {
      stopping.abort(new CmphaError('stopping', 'cmpha is stopping'));
      if (depthTimer) clearInterval(depthTimer);
      await Promise.race([Promise.all(workers.map((w) => w.close())), sleep(10_000)]);
      await Promise.all(workers.map((w) => w.close(true)));
      await Promise.all([incidentQueue.close(), evacuateQueue.close(), finalizeQueue.close(), flows.close()]);
      if (ownConnection) connection.disconnect();
    },
  };
}
