import { DelayedError, UnrecoverableError, type FlowProducer, type Job, type Queue } from 'bullmq';
import type { IncidentStore } from '../incidents/incident-store.js';
import { errorMessage } from '../shared/errors.js';
import { recoveryEnd } from './ended.js';
import type { JobOptions, QueueKind } from './retry-policy.js';
import { evacuateJobId, networkJobId, type EvacuateJobData, type IncidentJobData, type QueueNames } from './queues.js';
import { GaveUp, isDeposed, runFinalize, runNetwork, runPrepare, runServer, type Attempt } from './runner.js';
import type { StepContext } from './steps/context.js';
import { isHeldBack } from './held-back.js';

export interface ProcessorEnv {
  readonly store: IncidentStore;
  readonly names: QueueNames;
  readonly flows: FlowProducer;
  readonly finalizeQueue: Queue<IncidentJobData>;
  /** Options of the jobs the processors add, per queue (attempts, backoff, retention). */
  readonly jobOpts: (queue: QueueKind) => JobOptions;
  readonly contextFor: (incidentId: string) => StepContext;
}

const attemptOf = (job: Job): Attempt => ({ number: job.attemptsMade + 1, max: job.opts.attempts ?? 1 });

/** A deposed controller's job goes back to the queue for the leader, without using up an attempt. */
const DEPOSED_RETRY_MS = 2000;

/** The runner decided and recorded; BullMQ only needs to know whether to retry. */
async function queued<T>(job: Job, token: string | undefined, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof GaveUp) throw new UnrecoverableError(errorMessage(err));
    if (isDeposed(err) && token) {
      await job.moveToDelayed(Date.now() + DEPOSED_RETRY_MS, token);
      throw new DelayedError();
    }
    // Held by its tier's gate, or waiting for room: back to the queue (its slot freed), without using up an attempt.
    if (isHeldBack(err) && token) {
      await job.moveToDelayed(Date.now() + err.waitMs, token);
      throw new DelayedError();
    }
    throw err;
  }
}

/**
 * The BullMQ side of the runner: an incident job prepares and then fans out, per server, an evacuate job (its
 * queue limited to `concurrency`) under a network job (its own queue and limit, so a server whose address is
 * slow to answer holds no evacuation slot), all under a finalize job that runs when they have all ended.
 * Processors hold no logic of their own beyond that shape.
 */
export function createProcessors(env: ProcessorEnv) {
  return {
    async incident(job: Job<IncidentJobData>, token?: string): Promise<string> {
      const { incidentId } = job.data;
      const rec = await env.store.getRecord(incidentId);
      if (!rec) throw new UnrecoverableError(`incident ${incidentId} does not exist`);
      if (recoveryEnd(rec.status) === 'closed') return rec.status;
      const prepared = await queued(job, token, () => runPrepare(env.contextFor(incidentId), attemptOf(job)));
      if (prepared.kind === 'closed') return prepared.status;
      if (prepared.kind === 'awaiting_fence') return 'awaiting_fence';
      if (await env.finalizeQueue.getJob(incidentId)) return 'evacuating';
      await env.flows.add({
        name: 'finalize', queueName: env.names.finalize, data: { incidentId },
        opts: { ...env.jobOpts('finalize'), jobId: incidentId },
        children: prepared.serverIds.map((serverId, i) => {
          const data = { incidentId, serverId };
          // Lower number runs first in BullMQ: the list is already highest priority first.
          const child = { ignoreDependencyOnFailure: true, priority: Math.min(i + 1, 2_097_152) };
          return {
            name: 'verify-network', queueName: env.names.network, data, opts: { ...env.jobOpts('network'), ...child, jobId: networkJobId(incidentId, serverId) },
            children: [{ name: 'evacuate', queueName: env.names.evacuate, data, opts: { ...env.jobOpts('evacuate'), ...child, jobId: evacuateJobId(incidentId, serverId) } }],
          };
        }),
      });
      return 'evacuating';
    },
    async evacuate(job: Job<EvacuateJobData>, token?: string): Promise<string> {
      const { incidentId, serverId } = job.data;
      const out = await queued(job, token, () => runServer(env.contextFor(incidentId), { serverId }, attemptOf(job)));
      return out.entry?.state ?? 'closed';
    },
    async network(job: Job<EvacuateJobData>, token?: string): Promise<string> {
      const { incidentId, serverId } = job.data;
      const out = await queued(job, token, () => runNetwork(env.contextFor(incidentId), { serverId }, attemptOf(job)));
      return out.entry?.state ?? 'closed';
    },
    async finalize(job: Job<IncidentJobData>, token?: string): Promise<string> {
      return (await queued(job, token, () => runFinalize(env.contextFor(job.data.incidentId), attemptOf(job)))).status;
    },
  };
}
