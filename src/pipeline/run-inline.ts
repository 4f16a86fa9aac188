import { recoverServer } from '../evacuator/recover-server.js';
import type { EvacuatorDeps } from '../evacuator/types.js';
import type { IncidentRecord } from '../incidents/types.js';
import { errorMessage } from '../shared/errors.js';
import { prepareIncident, type PrepareDeps } from './prepare-incident.js';
import type { StepContext } from './steps/context.js';
import { finalizeStep } from './steps/finalize.js';

/**
 * The whole recovery of one incident in this process, without a queue: the same steps the workers run,
 * for tests and tools. Servers are evacuated `concurrency` at a time, in priority order.
 */
export async function runIncidentInline(ctx: StepContext, prep: PrepareDeps, evac: EvacuatorDeps): Promise<IncidentRecord> {
  const prepared = await prepareIncident(ctx, prep);
  if (prepared.kind === 'closed') return ctx.store.require(ctx.incidentId);
  const rec = await ctx.store.require(ctx.incidentId);
  const queue = [...prepared.serverIds];
  const worker = async () => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      try {
        await recoverServer(evac, rec, id, ctx.signal);
      } catch (err) {
        await ctx.store.updateInstance(ctx.incidentId, id, (e) => (e.state === 'verified' ? undefined : { ...e, state: 'failed', error: errorMessage(err) }));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, ctx.evacuation.concurrency) }, worker));
  await ctx.store.update(ctx.incidentId, (r) => (r.status === 'evacuating' ? { ...r, status: 'verifying' } : undefined));
  return finalizeStep(ctx, prep.notifier);
}
