import type { Queue } from 'bullmq';
import type { IncidentJobData } from './queues.js';
import type { JobOptions } from './retry-policy.js';

/** Queues an incident's recovery once: one job per incident id. */
export function incidentSubmitter(incidentQueue: Queue<IncidentJobData>, jobOpts: JobOptions): (incidentId: string) => Promise<void> {
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
