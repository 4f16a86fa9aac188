import { planInstances } from '../../evacuator/select.js';
import { note, record, type StepContext, type StepOutcome } from './context.js';

/**
 * Records one entry per server on the failed host. Entries already recorded keep their progress, so a
 * second run only adds servers that were not there before.
 */
export async function inventoryStep(ctx: StepContext): Promise<StepOutcome> {
  const rec = await record(ctx);
  const existing = new Set((await ctx.store.listInstances(ctx.incidentId)).map((e) => e.id));
  const servers = await ctx.nova.listServersOnHost(rec.host, { signal: ctx.signal });
  const fresh = planInstances(servers, rec.host, ctx.evacuation).filter((e) => !existing.has(e.id));
  if (fresh.length === 0) return { kind: 'skip', reason: existing.size > 0 ? 'instances already recorded' : 'no servers on the host' };
  await ctx.store.addInstances(ctx.incidentId, fresh);
  const skipped = fresh.filter((e) => e.state === 'skipped');
  // Counted once, when recorded: a re-run only sees servers that were not there before.
  if (skipped.length > 0) ctx.metrics?.evacuations?.inc({ result: 'skipped' }, skipped.length);
  await note(ctx, 'inventory', 'info',
    `${fresh.length} server(s) on ${rec.host}: ${fresh.length - skipped.length} to evacuate, ${skipped.length} left in place`,
    { data: { skipped: skipped.map((s) => ({ id: s.id, name: s.name, reason: s.skipReason })) } });
  return { kind: 'done' };
}
