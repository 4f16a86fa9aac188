import { baselineAddresses, planInstances, policyOf, type PolicyFacts } from '../../evacuator/select.js';
import type { Guest } from '../../compute/types.js';
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
      const cloud = ctx.compute.names.cloud;
      const summary = `${cloud} lists no servers on ${rec.host}, but listed ${before.count} there before the incident`
        + `${before.names.length > 0 ? ` (${before.names.slice(0, 10).join(', ')}${before.names.length > 10 ? ', ...' : ''})` : ''}: deleted meanwhile, or ${cloud} is answering wrongly`;
      await note(ctx, 'inventory', 'warning', summary, { data: { listedBefore: before.count, names: before.names } });
      await notifyOnce(ctx, rec, { type: 'inventory-suspicious', severity: 'warning', summary });
    }
  }
  const unseen = servers.filter((s) => !existing.has(s.id));
  if (unseen.length === 0) return { kind: 'skip', reason: existing.size > 0 ? 'instances already recorded' : 'no servers on the host' };
  const fresh = planInstances(unseen, rec.host, ctx.evacuation, baselineAddresses(rec.evidence), await policyFacts(ctx, rec.host, unseen), (s) => ctx.compute.recoveryOf(s));
  await ctx.store.addInstances(ctx.incidentId, fresh);
  const skipped = fresh.filter((e) => e.state === 'skipped');
  const excluded = fresh.filter((e) => e.state === 'excluded');
  // Counted once, when recorded: a re-run only sees servers that were not there before.
  if (skipped.length + excluded.length > 0) ctx.metrics?.evacuations?.inc({ result: 'skipped' }, skipped.length + excluded.length);
  const moving = fresh.length - skipped.length - excluded.length;
  const tiers = [...new Set(fresh.filter((e) => e.state === undefined).map((e) => e.tier ?? 1))].sort((a, b) => a - b);
  const stranded = skipped.filter((s) => s.leftBy === 'cloud');
  await note(ctx, 'inventory', stranded.length > 0 ? 'warning' : 'info',
    `${fresh.length} server(s) on ${rec.host}: ${moving} to evacuate${tiers.length > 1 ? ` in ${tiers.length} tiers` : ''}, ${skipped.length} left in place, ${excluded.length} left by policy`
    + (skipped.length > 0 ? `: ${skipped.map((s) => `${s.name} (${s.leftBy === 'cloud' ? 'cannot be moved' : 'by [evacuation] states'}: ${s.skipReason})`).join('; ')}` : ''),
    { data: {
      skipped: skipped.map((s) => ({ id: s.id, name: s.name, reason: s.skipReason, leftBy: s.leftBy })),
      excluded: excluded.map((s) => ({ id: s.id, name: s.name, rule: s.policyRule })),
    } });
  for (const e of excluded) await note(ctx, 'inventory', 'info', `${e.name}: ${e.skipReason}`, { serverId: e.id });
  // What each server was doing when its host died, and what will be done about it, once, in the timeline.
  for (const e of fresh.filter((x) => x.state === undefined && x.recovery && (x.recovery.reset || x.recovery.expect !== 'ACTIVE' || x.was?.lasting !== 'ACTIVE'))) {
    const r = e.recovery!;
    await note(ctx, 'inventory', 'info', `${e.name} was ${e.was!.status}${e.was!.taskState ? ` (task ${e.was!.taskState})` : ''}: `
      + `${r.reset ? `reset first (${r.reset.why}), ` : ''}evacuated, then expected ${r.expect} on its new host${r.restore ? ` (${r.restore} after it arrives)` : ''}`
      + `${r.caveat ? `; ${r.caveat}` : ''}`, { serverId: e.id });
  }
  return { kind: 'done' };
}

/**
 * What the policy needs beyond the servers: the failed host's aggregates (when a rule looks at them) and the
 * images' properties (when a rule looks at them). A read that fails leaves that part unknown: its rules do not
 * match, and the timeline says so; the inventory itself goes on.
 */
export async function policyFacts(ctx: StepContext, host: string, servers: readonly Guest[]): Promise<PolicyFacts> {
  const rules = policyOf(ctx.evacuation).rules;
  const facts: { aggregates?: PolicyFacts['aggregates']; images?: PolicyFacts['images'] } = {};
  if (rules.some((r) => r.source === 'aggregate') && ctx.compute.hostGroups) {
    try {
      facts.aggregates = (await ctx.compute.hostGroups({ signal: ctx.signal })).filter((g) => g.hosts.includes(host));
    } catch (err) {
      if (ctx.signal?.aborted) throw err;
      await note(ctx, 'inventory', 'warning', `cannot read the aggregates of ${host} (${errorMessage(err)}): aggregate rules of the policy match nothing`);
    }
  }
  const imageIds = [...new Set(servers.map((s) => s.imageId).filter((i): i is string => typeof i === 'string' && i !== ''))];
  if (rules.some((r) => r.source === 'image') && ctx.compute.imageProperties && imageIds.length > 0) {
    try {
      facts.images = await ctx.compute.imageProperties(imageIds, { signal: ctx.signal });
    } catch (err) {
      if (ctx.signal?.aborted) throw err;
      await note(ctx, 'inventory', 'warning', `cannot read image properties (${errorMessage(err)}): image rules of the policy match nothing`);
    }
  }
  return facts;
}
