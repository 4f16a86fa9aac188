import { DEFAULT_CAPACITY_RECHECK_MS, DEFAULT_CAPACITY_WAIT_MS, findRoom, waitsForRoom, type Room, type RoomHost } from '../evacuator/room.js';
import { groupAllows, isSpareHost, spareHostUnusable, type PlanGroup } from '../evacuator/spare-plan.js';
import { unlessSettled } from '../incidents/instance-transitions.js';
import type { IncidentRecord, InstanceEntry } from '../incidents/types.js';
import { formatDuration } from '../shared/duration.js';
import { HeldBack } from './held-back.js';
import { note, type StepContext } from './steps/context.js';
import { notifyOnce } from './steps/notify.js';
import { CLAIM_TTL_MS, enableSpares } from './steps/spare.js';


/** A server no host has room for: its job is delayed until the next look (it has sent nothing). */
export class CapacityWaiting extends HeldBack {
  constructor(serverId: string, waitMs: number, why: string) {
    super('capacity_waiting', serverId, waitMs, why);
  }
}

/**
 * The gate a server without a named target passes before its evacuation: is there a host with room for it now?
 *
 * A server the spare plan placed has its target and passes. One left to the scheduler (no spare fits, or Nova's
 * scheduler refused a named spare, or answered "no valid host") is looked at here: when no enabled host and no
 * usable spare has its vCPU and RAM free, nothing is sent (Nova would put it in ERROR with "No valid host"); it
 * waits in `awaiting_capacity`, the incident stays open (evacuating), and its job is delayed by
 * `capacity_recheck_interval` (kept in Redis: a restarted or new leader resumes the wait; a deposed one writes
 * nothing, the store refuses it). Each look reads the cloud again, so room counts wherever it comes from: a
 * spare added to the config or disabled as a spare, a host enabled or returned, another server deleted or moved.
 * Room on a free spare is claimed and the spare enabled behind the fence guard, as the spare step does.
 *
 * Pages once per incident when the first server starts waiting, notices per server when it moves on; after
 * `capacity_wait` the server is failed with why (the incident ends partial, naming it, and pages).
 */
export async function passCapacityGate(ctx: StepContext, serverId: string): Promise<void> {
  const entry = await ctx.store.getInstance(ctx.incidentId, serverId);
  if (!entry) return;
  if (entry.state !== 'awaiting_capacity' && !(entry.state === 'pending' && entry.target === null && waitsForRoom(ctx.evacuation))) return;
  const rec = await ctx.store.require(ctx.incidentId);
  if (rec.requestedTarget) return;
  const guest = await ctx.compute.guest(serverId, { signal: ctx.signal });
  if (guest === null) {
    await note(ctx, 'evacuate', 'info', `server ${entry.name} was deleted during the incident`, { serverId });
    await ctx.store.updateInstance(ctx.incidentId, serverId, 'deleted', unlessSettled({ finishedAt: ctx.clock.now() }));
    return;
  }
  // Moved by someone else meanwhile: the evacuation step follows it (nothing is sent for a server already moved).
  if (guest.host !== null && guest.host !== rec.host) {
    if (entry.state === 'awaiting_capacity') await ctx.store.updateInstance(ctx.incidentId, serverId, 'room_found', unlessSettled({ roomAt: ctx.clock.now() }));
    return;
  }
  const room = await lookForRoom(ctx, rec, entry);
  if (room.kind === 'room') {
    const placed = await takeRoom(ctx, rec, entry, room);
    if (placed) return;
  }
  await waitForRoom(ctx, rec, entry, room.kind === 'none' ? room.why : `the spare ${room.host.host} was taken by another incident a moment ago`);
}

/** The hosts the server could go to now (same zone, up, not isolated; spares not claimed by another incident), with their room. */
async function lookForRoom(ctx: StepContext, rec: IncidentRecord, entry: InstanceEntry): Promise<Room> {
  const hosts = (await ctx.compute.hosts({ signal: ctx.signal })).filter((h) => h.name !== rec.host && spareHostUnusable(h, { zone: rec.zone }) === undefined);
  const ours = new Set((rec.spares ?? []).map((s) => s.host));
  const candidates: Array<Omit<RoomHost, 'freeVcpus' | 'freeRamMb'>> = [];
  for (const h of hosts) {
    const spare = isSpareHost(h, ctx.evacuation.spareHosts) || ours.has(h.name);
    if (!spare && h.status !== 'enabled') continue;
    if (spare && !ours.has(h.name)) {
      const by = await ctx.store.spareClaimedBy(h.name);
      if (by && by !== ctx.incidentId) continue;
    }
    candidates.push({ host: h.name, serviceId: h.id, spare, ours: ours.has(h.name), enabled: h.status === 'enabled' });
  }
  const capacity = await ctx.compute.capacity(candidates.map((c) => c.host), { signal: ctx.signal });
  const withRoom: RoomHost[] = candidates.map((c) => {
    const cap = capacity.get(c.host);
    return { ...c, ...(cap?.freeVcpus !== undefined && cap.freeRamMb !== undefined ? { freeVcpus: cap.freeVcpus, freeRamMb: cap.freeRamMb } : {}) };
  });
  const mayClaim = ours.size < Math.max(1, ctx.evacuation.spareCount);
  const group = await groupOf(ctx, entry, rec.host);
  return findRoom({ vcpus: entry.flavor?.vcpus ?? 0, ramMb: entry.flavor?.ramMb ?? 0 }, withRoom, mayClaim,
    (host) => groupAllows(group, entry.id, host, new Map()));
}

/**
 * The server's group with where its other members run now (not on the failed host), so that room on a host
 * that would break the group's hard policy is not counted: the scheduler would refuse it. Nothing when the
 * cloud has no groups, or they cannot be read (the scheduler's refusal then sends it back to waiting).
 */
async function groupOf(ctx: StepContext, entry: InstanceEntry, failedHost: string): Promise<Map<string, PlanGroup>> {
  const out = new Map<string, PlanGroup>();
  if (!ctx.compute.guestGroups) return out;
  const g = (await ctx.compute.guestGroups({ signal: ctx.signal }).catch(() => [])).find((x) => x.members.includes(entry.id));
  if (!g || (g.policy !== 'affinity' && g.policy !== 'anti-affinity')) return out;
  const elsewhere = new Map<string, number>();
  for (const id of g.members) {
    if (id === entry.id) continue;
    const other = await ctx.compute.guest(id, { signal: ctx.signal });
    if (!other?.host || other.host === failedHost) continue;
    elsewhere.set(other.host, (elsewhere.get(other.host) ?? 0) + 1);
  }
  out.set(entry.id, { name: g.name, policy: g.policy, ...(g.maxPerHost !== undefined ? { maxPerHost: g.maxPerHost } : {}), members: [entry.id], elsewhere });
  return out;
}

/**
 * Room found: a free spare is claimed and enabled (behind the fence guard); a waiting entry goes back to pending,
 * noted and noticed. The server is sent without a target (the scheduler places it, with its filters). False: the
 * spare's claim was lost to another incident a moment ago.
 */
async function takeRoom(ctx: StepContext, rec: IncidentRecord, entry: InstanceEntry, room: Extract<Room, { kind: 'room' }>): Promise<boolean> {
  const h = room.host;
  if (room.claim) {
    if (!await ctx.store.claimSpare(h.host, ctx.incidentId, CLAIM_TTL_MS)) return false;
    await ctx.store.update(ctx.incidentId, (r) => ((r.spares ?? []).some((s) => s.host === h.host) ? undefined
      : { ...r, spares: [...(r.spares ?? []), { host: h.host, serverIds: [entry.id] }] }));
    await note(ctx, 'spare', 'info', `spare ${h.host} taken for ${entry.name}, which fits nowhere else`, { serverId: entry.id });
    await enableSpares(ctx, rec.host, [{ host: h.host, serverIds: [entry.id] }]);
  }
  if (entry.state === 'pending') return true;
  const now = ctx.clock.now();
  const moved = await ctx.store.updateInstance(ctx.incidentId, entry.id, 'room_found', (x) => (x.state !== 'awaiting_capacity' ? undefined : { target: null, roomAt: now }));
  if (moved.roomAt !== now) return true;
  const waited = formatDuration(now - (entry.awaitingSince ?? now));
  const where = `the scheduler chooses (${h.host} has room)`;
  await note(ctx, 'evacuate', 'info', `${entry.name}: room found after waiting ${waited}; evacuating it, ${where}`, { serverId: entry.id });
  await notifyOnce(ctx, rec, {
    type: 'capacity-found', severity: 'info', key: `capacity-found:${entry.id}`,
    summary: `${rec.host}: ${entry.name} found room after waiting ${waited}; evacuating it, ${where}`,
    instances: [moved],
  });
  return true;
}
/** No room: wait (recorded once, paged once per incident), or give up once `capacity_wait` has passed. */
async function waitForRoom(ctx: StepContext, rec: IncidentRecord, entry: InstanceEntry, why: string): Promise<void> {
  const now = ctx.clock.now();
  const waitMs = ctx.evacuation.capacityWaitMs ?? DEFAULT_CAPACITY_WAIT_MS;
  const since = entry.awaitingSince ?? now;
  if (now - since >= waitMs) {
    const error = `no room within ${formatDuration(waitMs)} (capacity_wait): ${why}`;
    await note(ctx, 'evacuate', 'critical', `${entry.name}: ${error}; left on ${rec.host}`, { serverId: entry.id });
    ctx.metrics?.evacuations?.inc({ result: 'failed' });
    await ctx.store.updateInstance(ctx.incidentId, entry.id, 'failed', unlessSettled({ error, finishedAt: now }));
    return;
  }
  const first = entry.state !== 'awaiting_capacity';
  await ctx.store.updateInstance(ctx.incidentId, entry.id, 'no_room', unlessSettled((x) => ({ awaitingSince: x.awaitingSince ?? now, noRoom: why })));
  if (first) {
    await note(ctx, 'evacuate', 'warning', `${entry.name}: ${why}; waiting for room (looking again every ${formatDuration(recheckMs(ctx))}, for at most ${formatDuration(waitMs)})`, { serverId: entry.id });
    const waiting = (await ctx.store.listInstances(ctx.incidentId)).filter((e) => e.state === 'awaiting_capacity');
    await notifyOnce(ctx, rec, {
      type: 'capacity-wait', severity: 'critical',
      summary: `${rec.host}: ${waiting.length} server(s) fit on no host and wait for room (${waiting.map((e) => e.name).join(', ')}); add a spare or free room`,
      details: waiting.map((e) => `${e.name} (${e.id}): ${e.noRoom ?? why}`).join('\n'),
      instances: waiting,
    });
  }
  throw new CapacityWaiting(entry.id, Math.max(1, Math.min(recheckMs(ctx), since + waitMs - now)), `${entry.name} waits for room: ${why}`);
}

function recheckMs(ctx: StepContext): number {
  return ctx.evacuation.capacityRecheckMs ?? DEFAULT_CAPACITY_RECHECK_MS;
}
