import { spareCapacity, type SpareCapacity } from '../../evacuator/spare-capacity.js';
import { isReservedSpare, planSpares, spareUnusableReason, type SpareCandidate } from '../../evacuator/spare-plan.js';
import type { SpareAssignment } from '../../incidents/types.js';
import { novaComputeOf } from '../../openstack/compute-service.js';
import type { ComputeService, Hypervisor, Server } from '../../openstack/types.js';
import { assertFenced } from '../../incidents/fence-guard.js';
import { note, record, type StepContext, type StepOutcome } from './context.js';

/** A claimed spare stays reserved at most this long if an incident never closes. */
const CLAIM_TTL_MS = 24 * 3_600_000;

/**
 * Chooses the spare(s) for this incident once, records them, enables them. A retry reuses what was
 * recorded. When no spare fits, the servers go without a target and Nova's scheduler chooses.
 */
export async function spareStep(ctx: StepContext): Promise<StepOutcome> {
  let rec = await record(ctx);
  if (!rec.spares) {
    const spares = await chooseSpares(ctx);
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
  await enableSpares(ctx, rec.host, spares);
  return { kind: 'done' };
}

async function chooseSpares(ctx: StepContext): Promise<SpareAssignment[]> {
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
  const services = await ctx.nova.listComputeServices({ signal: ctx.signal });
  const reserved = services.filter((s) => s.host !== rec.host && isReservedSpare(s, ctx.evacuation.spareHosts, ctx.evacuation.spareReasonPrefix));
  const rejected: Array<{ host: string; reason: string }> = [];
  const usable: ComputeService[] = [];
  for (const s of reserved) {
    // The claim is only read for a spare that could otherwise take the servers.
    const reason = spareUnusableReason(s, { zone: rec.zone })
      ?? spareUnusableReason(s, { zone: rec.zone, claimedBy: await ctx.store.spareClaimedBy(s.host), incidentId: ctx.incidentId });
    if (reason) rejected.push({ host: s.host, reason });
    else usable.push(s);
  }
  const hypervisors = usable.length > 0 ? await ctx.nova.listHypervisors({ signal: ctx.signal }) : [];
  const candidates: SpareCandidate[] = [];
  const capacityOf = new Map<string, SpareCapacity>();
  for (const s of usable) {
    const hv: Hypervisor | undefined = hypervisors.find((h) => h.serviceHost === s.host);
    const needSum = hv && hv.vcpus !== undefined && (hv.vcpusUsed === undefined || hv.memoryMbUsed === undefined);
    const onSpare: Server[] | undefined = needSum ? await ctx.nova.listServersOnHost(s.host, { signal: ctx.signal }) : undefined;
    const cap = await spareCapacity(hv, onSpare, ctx.placement, { signal: ctx.signal });
    capacityOf.set(s.host, cap);
    candidates.push({
      host: s.host, serviceId: s.id, enabled: s.status === 'enabled', ...(s.zone ? { zone: s.zone } : {}),
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
  const needs = pending.map((e) => ({ id: e.id, vcpus: e.flavor?.vcpus ?? 0, ramMb: e.flavor?.ramMb ?? 0 }));
  // Several incidents may plan at once (a rack dies): whoever loses a claim plans again without that spare.
  let chosen: SpareAssignment[] = [];
  let unplaced: string[] = [];
  let left = [...candidates];
  for (;;) {
    const plan = planSpares({ candidates: left, needs, maxSpares: ctx.evacuation.spareCount });
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
  if (unplaced.length > 0) {
    await note(ctx, 'spare', 'warning', chosen.length === 0
      ? `no spare fits the ${unplaced.length} server(s) to move: evacuating without a target, the scheduler chooses`
      : `${unplaced.length} server(s) do not fit on the spare(s): evacuating them without a target, the scheduler chooses`,
    { data: { unplaced } });
  }
  return chosen;
}

async function enableSpares(ctx: StepContext, failedHost: string, spares: readonly SpareAssignment[]): Promise<void> {
  const services = await ctx.nova.listComputeServices({ signal: ctx.signal });
  for (const s of spares) {
    const svc = novaComputeOf(services, s.host);
    if (!svc) {
      await note(ctx, 'spare', 'warning', `spare ${s.host} is not a nova-compute host Nova knows; its servers will fail to evacuate there`);
      continue;
    }
    if (svc.status !== 'enabled') {
      await assertFenced(ctx, `enable spare ${s.host}`);
      await ctx.nova.updateService(svc.id, { status: 'enabled' }, { signal: ctx.signal });
      await note(ctx, 'spare', 'info', `spare ${s.host} enabled (was disabled: "${svc.disabledReason ?? ''}")`);
    }
  }
  if (!ctx.evacuation.spareAddToAggregates) return;
  const aggregates = await ctx.nova.listAggregates({ signal: ctx.signal });
  for (const agg of aggregates.filter((a) => a.hosts.includes(failedHost))) {
    for (const s of spares) {
      if (agg.hosts.includes(s.host)) continue;
      await assertFenced(ctx, `add spare ${s.host} to aggregate ${agg.name}`);
      await ctx.nova.addHostToAggregate(agg.id, s.host, { signal: ctx.signal });
      await note(ctx, 'spare', 'info', `spare ${s.host} added to aggregate ${agg.name}`);
    }
  }
}
