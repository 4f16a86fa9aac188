import { DelayedError, UnrecoverableError, type FlowProducer, type Job, type Queue } from 'bullmq';
import type { IncidentStore } from '../incidents/incident-store.js';
import { isTerminalStatus } from '../incidents/types.js';
import { errorMessage } from '../shared/errors.js';
import { evacuateJobId, type EvacuateJobData, type IncidentJobData, type QueueNames } from './queues.js';
import { GaveUp, isDeposed, runFinalize, runPrepare, runServer, type Attempt } from './runner.js';
import type { StepContext } from './steps/context.js';

export interface ProcessorEnv {
  readonly store: IncidentStore;
  readonly names: QueueNames;
  readonly flows: FlowProducer;
  readonly finalizeQueue: Queue<IncidentJobData>;
  /** Options of every job the processors add (attempts, backoff, retention). */
  readonly jobOpts: Record<string, unknown>;
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
    throw err;
  }
}

/**
 * The BullMQ side of the runner: an incident job prepares and then fans out one evacuate job per server under
 * a finalize job that runs when they have all ended. Processors hold no logic of their own beyond that shape.
 */
export function createProcessors(env: ProcessorEnv) {
  return {
    async incident(job: Job<IncidentJobData>, token?: string): Promise<string> {
      const { incidentId } = job.data;
      const rec = await env.store.getRecord(incidentId);
      if (!rec) throw new UnrecoverableError(`incident ${incidentId} does not exist`);
      if (isTerminalStatus(rec.status)) return rec.status;
      const prepared = await queued(job, token, () => runPrepare(env.contextFor(incidentId), attemptOf(job)));
      if (prepared.kind === 'closed') return prepared.status;
      if (prepared.kind === 'awaiting_fence') return 'awaiting_fence';
      if (await env.finalizeQueue.getJob(incidentId)) return 'evacuating';
      await env.flows.add({
        name: 'finalize', queueName: env.names.finalize, data: { incidentId },
        opts: { ...env.jobOpts, jobId: incidentId },
        children: prepared.serverIds.map((serverId, i) => ({
          name: 'evacuate', queueName: env.names.evacuate, data: { incidentId, serverId },
          // Lower number runs first in BullMQ: the list is already highest priority first.
          opts: { ...env.jobOpts, ignoreDependencyOnFailure: true, jobId: evacuateJobId(incidentId, serverId), priority: Math.min(i + 1, 2_097_152) },
        })),
      });
      return 'evacuating';
    },
    async evacuate(job: Job<EvacuateJobData>, token?: string): Promise<string> {
      const { incidentId, serverId } = job.data;
      const entry = await queued(job, token, () => runServer(env.contextFor(incidentId), serverId, attemptOf(job)));
      return entry?.state ?? 'closed';
    },
    async finalize(job: Job<IncidentJobData>, token?: string): Promise<string> {
      return (await queued(job, token, () => runFinalize(env.contextFor(job.data.incidentId), attemptOf(job)))).status;
    },
  };
}
