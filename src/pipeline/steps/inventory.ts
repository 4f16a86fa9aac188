import { baselineAddresses, planInstances } from '../../evacuator/select.js';
import { errorMessage } from '../../shared/errors.js';
import { note, record, type StepContext, type StepOutcome } from './context.js';
import { notifyOnce } from './notify.js';

/**
 * The servers Nova listed on the host before the incident, as the opener recorded them: the detector's
 * evidence names the servers whose addresses it probed, an orphaned recovery how many Nova still listed.
 */
export function serversListedBefore(evidence: unknown): { count: number; names: string[] } {
  const ev = evidence as { instances?: { addresses?: unknown }; serversOnHost?: unknown } | null | undefined;
  const addrs = Array.isArray(ev?.instances?.addresses) ? (ev.instances.addresses as Array<{ server?: unknown }>) : [];
  const names = [...new Set(addrs.map((a) => a?.server).filter((s): s is string => typeof s === 'string' && s.length > 0))];
  const counted = typeof ev?.serversOnHost === 'number' && Number.isFinite(ev.serversOnHost) ? ev.serversOnHost : 0;
  return { count: Math.max(names.length, counted), names };
}

/**
 * Records one entry per server on the failed host. Entries already recorded keep their progress, so a
 * second run only adds servers that were not there before. A server list that cannot be read or does not
 * parse is this step failing (retried, then the incident fails and pages), never an empty host; an empty
 * list where Nova listed servers before is recorded and notified as suspicious.
 */
export async function inventoryStep(ctx: StepContext): Promise<StepOutcome> {
  const rec = await record(ctx);
  const existing = new Set((await ctx.store.listInstances(ctx.incidentId)).map((e) => e.id));
  let servers;
  try {
    servers = await ctx.compute.guestsOn(rec.host, { signal: ctx.signal });
  } catch (err) {
    if (!ctx.signal?.aborted) await note(ctx, 'inventory', 'warning', `cannot read the servers on ${rec.host}: ${errorMessage(err)}`);
    throw err;
  }
  if (servers.length === 0 && existing.size === 0) {
    const before = serversListedBefore(rec.evidence);
    if (before.count > 0) {
      const summary = `Nova lists no servers on ${rec.host}, but listed ${before.count} there before the incident`
        + `${before.names.length > 0 ? ` (${before.names.slice(0, 10).join(', ')}${before.names.length > 10 ? ', ...' : ''})` : ''}: deleted meanwhile, or Nova is answering wrongly`;
      await note(ctx, 'inventory', 'warning', summary, { data: { listedBefore: before.count, names: before.names } });
      await notifyOnce(ctx, rec, { type: 'inventory-suspicious', severity: 'warning', summary });
    }
  }
  const fresh = planInstances(servers, rec.host, ctx.evacuation, baselineAddresses(rec.evidence)).filter((e) => !existing.has(e.id));
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
