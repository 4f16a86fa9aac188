import { groupAllows, isSpareHost, planSpares, spareHostUnusable, type Need, type PlanGroup, type SpareCandidate } from '../../evacuator/spare-plan.js';
import { hostOffers, specialNeedsOf } from '../../evacuator/special-needs.js';
import { errorMessage } from '../../shared/errors.js';
import type { InstanceEntry, SpareAssignment } from '../../incidents/types.js';
import { hostNamed } from '../../compute/hosts.js';
import type { ComputeHost, HostCapabilities } from '../../compute/types.js';
import { assertFenced } from '../../incidents/fence-guard.js';
import type { CloudView } from './cloud-view.js';
import { note, record, type StepContext, type StepOutcome } from './context.js';

/** A claimed spare stays reserved at most this long if an incident never closes. */
export const CLAIM_TTL_MS = 24 * 3_600_000;

/**
 * Chooses the spare(s) for this incident once, records them, enables them. A retry reuses what was
 * recorded. When no spare fits, the servers go without a target and Nova's scheduler chooses. `view` is the
 * cloud as read in this attempt while the fence ran (hosts, spare capacity); without it both are read now.
 */
export async function spareStep(ctx: StepContext, view?: CloudView): Promise<StepOutcome> {
  let rec = await record(ctx);
  if (!rec.spares) {
    const spares = await chooseSpares(ctx, view);
    rec = await ctx.store.update(ctx.incidentId, (r) => (r.spares ? undefined : { ...r, spares }));
    // Another run may have recorded its choice first: free whatever of ours it did not keep.
    const kept = new Set((rec.spares ?? []).map((s) => s.host));
    for (const s of spares) if (!kept.has(s.host)) await ctx.store.releaseSpare(s.host, ctx.incidentId);
  }
  const spares = rec.spares ?? [];
  const targetOf = new Map<string, string>();
  for (const s of spares) for (const id of s.serverIds) targetOf.set(id, s.host);
  for (const e of await ctx.store.listInstances(ctx.incidentId)) {
    const t = targetOf.get(e.id) ?? null;
    if (e.state === 'pending' && e.target !== t) await ctx.store.updateInstance(ctx.incidentId, e.id, 'target_chosen', (x) => (x.state === 'pending' ? { target: t } : undefined));
  }
  if (spares.length === 0) return { kind: 'skip', reason: 'no spare: the scheduler chooses' };
  await enableSpares(ctx, rec.host, spares, view);
  return { kind: 'done' };
}

async function chooseSpares(ctx: StepContext, view?: CloudView): Promise<SpareAssignment[]> {
  const rec = await record(ctx);
  const pending = (await ctx.store.listInstances(ctx.incidentId)).filter((e) => e.state === 'pending');
  if (pending.length === 0) return [];
  if (rec.requestedTarget) {
    await note(ctx, 'spare', 'info', `target ${rec.requestedTarget} requested by the operator`);
    return [{ host: rec.requestedTarget, serverIds: pending.map((e) => e.id) }];
  }
  if (ctx.evacuation.spareCount <= 0) {
    await note(ctx, 'spare', 'info', 'spare_count is 0: the scheduler chooses every target');
    return [];
  }
  // The failed host's failover segment decides where its spares come from (read now: the API may change it).
  const source = ctx.sparesFor ? await ctx.sparesFor(rec.host) : null;
  if (source?.segment) await note(ctx, 'spare', 'info', source.why, { data: { segment: source.segment, reserved: source.hosts } });
  if (source?.segment && source.hosts.length === 0) return [];
  const hosts = view?.hosts ?? await ctx.compute.hosts({ signal: ctx.signal });
  const reserved = hosts.filter((s) => s.name !== rec.host && isSpareHost(s, source?.hosts ?? ctx.evacuation.spareHosts));
  const rejected: Array<{ host: string; reason: string }> = [];
  const usable: ComputeHost[] = [];
  for (const s of reserved) {
    // The claim is only read for a spare that could otherwise take the servers.
    const reason = spareHostUnusable(s, { zone: rec.zone })
      ?? spareHostUnusable(s, { zone: rec.zone, claimedBy: await ctx.store.spareClaimedBy(s.name), incidentId: ctx.incidentId });
    if (reason) rejected.push({ host: s.name, reason });
    else usable.push(s);
  }
  // Read while the fence ran for every spare that could be usable; a claim only takes some away.
  const capacityOf = view?.spareCapacity && usable.every((s) => view.spareCapacity!.has(s.name))
    ? view.spareCapacity : await ctx.compute.capacity(usable.map((s) => s.name), { signal: ctx.signal });
  const candidates: SpareCandidate[] = [];
  for (const s of usable) {
    const cap = capacityOf.get(s.name) ?? { source: 'unknown' };
    candidates.push({
      host: s.name, serviceId: s.id, enabled: s.status === 'enabled', ...(s.zone ? { zone: s.zone } : {}),
      ...(cap.freeVcpus !== undefined ? { freeVcpus: cap.freeVcpus, freeRamMb: cap.freeRamMb } : {}),
    });
  }
  const fromPlacement = candidates.filter((c) => capacityOf.get(c.host)?.source === 'placement');
  if (fromPlacement.length > 0) {
    await note(ctx, 'spare', 'info', `capacity from Placement: ${fromPlacement.map((c) => `${c.host} free ${c.freeVcpus} vCPU, ${c.freeRamMb} MB`).join('; ')}`);
  }
  const fromNova = candidates.filter((c) => capacityOf.get(c.host)?.source === 'nova');
  if (fromNova.length > 0) {
    // The hypervisor's figures know no allocation ratio: a spare may look fuller than the scheduler thinks.
    await note(ctx, 'spare', 'info', `capacity from Nova's hypervisor figures (${capacityOf.get(fromNova[0]!.host)?.why ?? 'Placement not asked'}): ${fromNova.map((c) => `${c.host} free ${c.freeVcpus} vCPU, ${c.freeRamMb} MB`).join('; ')}`);
  }
  const needs = await withSpecialNeeds(ctx, pending, candidates);
  const groups = await serverGroupsOf(ctx, pending, rec.host);
  // Several incidents may plan at once (a rack dies): whoever loses a claim plans again without that spare.
  let chosen: SpareAssignment[] = [];
  let unplaced: string[] = [];
  let left = [...candidates];
  for (;;) {
    const plan = planSpares({ candidates: left, needs, maxSpares: ctx.evacuation.spareCount, groups });
    const lost: string[] = [];
    chosen = [];
    for (const s of plan.spares) {
      if (await ctx.store.claimSpare(s.host, ctx.incidentId, CLAIM_TTL_MS)) chosen.push({ host: s.host, serverIds: s.serverIds });
      else lost.push(s.host);
    }
    if (lost.length === 0) {
      rejected.push(...plan.rejected);
      unplaced = [...plan.unplaced];
      break;
    }
    for (const s of chosen) await ctx.store.releaseSpare(s.host, ctx.incidentId);
    for (const h of lost) rejected.push({ host: h, reason: 'taken by another incident a moment ago' });
    left = left.filter((c) => !lost.includes(c.host));
  }
  const unknownCapacity = candidates.filter((c) => chosen.some((s) => s.host === c.host) && c.freeVcpus === undefined);
  for (const c of unknownCapacity) {
    await note(ctx, 'spare', 'warning', `capacity of spare ${c.host} is unknown (${capacityOf.get(c.host)?.why ?? 'no figures'}); assuming it fits`);
  }
  if (rejected.length > 0) await note(ctx, 'spare', 'info', `spares not used: ${rejected.map((r) => `${r.host} (${r.reason})`).join(', ')}`);
  if (chosen.length > 0) {
    await note(ctx, 'spare', 'info', `chose spare ${chosen.map((s) => `${s.host} for ${s.serverIds.length} server(s)`).join(', ')}`,
      { data: { spares: chosen } });
  }
  for (const held of heldByGroup(pending, unplaced, groups, candidates.map((c) => c.host), chosen)) {
    await note(ctx, 'spare', 'info', held.message, { serverId: held.id, data: { group: held.group, heldOn: held.hosts } });
  }
  if (unplaced.length > 0) {
    await note(ctx, 'spare', 'warning', chosen.length === 0
      ? `no spare fits the ${unplaced.length} server(s) to move: evacuating without a target, the scheduler chooses`
      : `${unplaced.length} server(s) do not fit on the spare(s): evacuating them without a target, the scheduler chooses`,
    { data: { unplaced } });
  }
  return chosen;
}

/**
 * The servers the plan left to the scheduler because their server group's policy keeps them off spares that had
 * room (not for room): one line each, naming the group and the spares, so the incident says why per server.
 */
export function heldByGroup(
  entries: readonly Pick<InstanceEntry, 'id' | 'name'>[],
  unplaced: readonly string[],
  groups: readonly PlanGroup[],
  spares: readonly string[],
  chosen: readonly SpareAssignment[],
): Array<{ id: string; group: string; hosts: string[]; message: string }> {
  const groupOf = new Map<string, PlanGroup>();
  for (const g of groups) for (const m of g.members) groupOf.set(m, g);
  const assigned = new Map<string, string>();
  for (const s of chosen) for (const id of s.serverIds) assigned.set(id, s.host);
  const out: Array<{ id: string; group: string; hosts: string[]; message: string }> = [];
  for (const id of unplaced) {
    const g = groupOf.get(id);
    if (!g) continue;
    const hosts = spares.filter((h) => !groupAllows(groupOf, id, h, assigned));
    if (hosts.length === 0) continue;
    const name = entries.find((e) => e.id === id)?.name ?? id;
    const why = g.policy === 'anti-affinity' || g.policy === 'soft-anti-affinity'
      ? `already has ${(g.maxPerHost ?? 1) > 1 ? `${g.maxPerHost} members` : 'a member'} on ${hosts.join(', ')}`
      : `runs on another host than ${hosts.join(', ')}`;
    out.push({ id, group: g.name, hosts, message: `${name}: its ${g.policy} group ${g.name} ${why}: evacuated without a target, the scheduler chooses a host that keeps the group's policy` });
  }
  return out;
}

/**
 * What each server needs of a spare: its vCPU and RAM and, for one whose flavor asks for a special target (dedicated
 * CPUs, NUMA nodes, a PCI alias, vGPUs), only the spares known to offer it (the cloud's capabilities, read once).
 * A spare that cannot be told is not counted on: such a server is then left to the scheduler, and the timeline says so.
 */
async function withSpecialNeeds(ctx: StepContext, pending: readonly InstanceEntry[], candidates: readonly SpareCandidate[]): Promise<Need[]> {
  const specialOf = new Map(pending.map((e) => [e.id, specialNeedsOf({ flavor: e.flavor ?? {} }, ctx.evacuation.pciAliasResources ? { pciAliasResources: ctx.evacuation.pciAliasResources } : {})]));
  const anySpecial = [...specialOf.values()].some((n) => n.length > 0);
  let caps: ReadonlyMap<string, HostCapabilities> = new Map();
  if (anySpecial && ctx.compute.hostCapabilities && candidates.length > 0) {
    try {
      caps = await ctx.compute.hostCapabilities(candidates.map((c) => c.host), { signal: ctx.signal });
    } catch (err) {
      if (ctx.signal?.aborted) throw err;
      await note(ctx, 'spare', 'warning', `cannot read the spares' capabilities (${errorMessage(err)}): servers that need a special target are left to the scheduler`);
    }
  }
  const out: Need[] = [];
  for (const e of pending) {
    const special = specialOf.get(e.id) ?? [];
    const base = { id: e.id, vcpus: e.flavor?.vcpus ?? 0, ramMb: e.flavor?.ramMb ?? 0 };
    if (special.length === 0) {
      out.push(base);
      continue;
    }
    const verdicts = candidates.map((c) => ({ host: c.host, v: hostOffers(special, caps.get(c.host)) }));
    const onlyOn = new Set(verdicts.filter((x) => x.v.kind === 'yes').map((x) => x.host));
    const not = verdicts.filter((x) => x.v.kind !== 'yes').map((x) => `${x.host}: ${'why' in x.v ? x.v.why : ''}`);
    await note(ctx, 'spare', onlyOn.size > 0 ? 'info' : 'warning', `${e.name} needs ${special.map((n) => n.what).join(', ')}: `
      + (onlyOn.size > 0 ? `spare(s) that can host it: ${[...onlyOn].join(', ')}` : 'no spare is known to host it; the scheduler chooses')
      + (not.length > 0 ? ` (not ${not.join('; ')})` : ''), { serverId: e.id });
    out.push({ ...base, onlyOn });
  }
  return out;
}

/**
 * The server groups of the servers to move, each with where its other members run now (read from the cloud), so
 * the plan keeps their policies. A cloud without groups, or whose groups cannot be read, gives none: the plan
 * then names targets by capacity alone, and a target the scheduler refuses for a group's policy is retried once
 * without a target (the timeline says so).
 */
export async function serverGroupsOf(ctx: StepContext, pending: readonly InstanceEntry[], failedHost: string): Promise<PlanGroup[]> {
  if (!ctx.compute.guestGroups) return [];
  let all;
  try {
    all = await ctx.compute.guestGroups({ signal: ctx.signal });
  } catch (err) {
    if (ctx.signal?.aborted) throw err;
    await note(ctx, 'spare', 'warning', `cannot read the server groups (${errorMessage(err)}): targets are chosen by capacity alone; a target the scheduler refuses is retried without one`);
    return [];
  }
  const moving = new Set(pending.map((e) => e.id));
  const out: PlanGroup[] = [];
  for (const g of all) {
    const members = g.members.filter((m) => moving.has(m));
    if (members.length === 0) continue;
    const elsewhere = new Map<string, number>();
    for (const id of g.members) {
      if (moving.has(id)) continue;
      const other = await ctx.compute.guest(id, { signal: ctx.signal });
      // A member left on the failed host (by policy, or for its state) stays there, dead: it holds no place elsewhere.
      if (!other?.host || other.host === failedHost) continue;
      elsewhere.set(other.host, (elsewhere.get(other.host) ?? 0) + 1);
    }
    out.push({ name: g.name, policy: g.policy, ...(g.maxPerHost !== undefined ? { maxPerHost: g.maxPerHost } : {}), members, elsewhere });
    await note(ctx, 'spare', 'info', `server group ${g.name} (${g.policy}${g.maxPerHost !== undefined ? `, max ${g.maxPerHost} per host` : ''}): ${members.length} member(s) to move`
      + (elsewhere.size > 0 ? `, others on ${[...elsewhere].map(([h, n]) => `${h} (${n})`).join(', ')}` : ''));
  }
  return out;
}

export async function enableSpares(ctx: StepContext, failedHost: string, spares: readonly SpareAssignment[], view?: CloudView): Promise<void> {
  // Enabling is idempotent: a spare the view shows disabled is enabled, even if someone did it meanwhile.
  const hosts = view?.hosts ?? await ctx.compute.hosts({ signal: ctx.signal });
  for (const s of spares) {
    const svc = hostNamed(hosts, s.host);
    if (!svc) {
      await note(ctx, 'spare', 'warning', `spare ${s.host} is not a ${ctx.compute.names.agent} host ${ctx.compute.names.cloud} knows; its servers will fail to evacuate there`);
      continue;
    }
    if (svc.status !== 'enabled') {
      await assertFenced(ctx, `enable spare ${s.host}`);
      await ctx.compute.enable(svc, { signal: ctx.signal });
      await note(ctx, 'spare', 'info', `spare ${s.host} enabled (was disabled: "${svc.reason ?? ''}")`);
    }
  }
  if (!ctx.evacuation.spareAddToAggregates) return;
  await ctx.compute.joinGroups(spares.map((s) => s.host), failedHost, {
    signal: ctx.signal,
    before: async (spare, group) => { await assertFenced(ctx, `add spare ${spare} to aggregate ${group}`); },
    after: (spare, group) => note(ctx, 'spare', 'info', `spare ${spare} added to aggregate ${group}`),
  });
}
