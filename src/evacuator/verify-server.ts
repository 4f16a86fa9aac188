import type { InstanceEntry } from '../incidents/types.js';
import { isFinalInstanceState } from '../incidents/types.js';
import type { Arrival } from '../compute/types.js';
import { formatDuration } from '../shared/duration.js';
import { errorMessage, isRetryable } from '../shared/errors.js';
import { unlessSettled } from '../incidents/instance-transitions.js';
import { isActiveElsewhere } from './entry-state.js';
import { waitsForRoom } from './room.js';
import { verifyNetworkStep } from './verify-network.js';
import { note, serverOutcome, type ServerInput, type ServerOutcome, type StepContext } from '../pipeline/steps/context.js';

/** Both parts, one after the other: ACTIVE on another host, then the network (for a server left mid-way). */
export async function verifyServer(d: StepContext, input: ServerInput): Promise<ServerOutcome> {
  const active = await waitActive(d, input.serverId);
  return isActiveElsewhere(active) ? verifyNetworkStep(d, input) : serverOutcome(active);
}

/**
 * Nova's part of the verification, inside the evacuation slot: polls until the server runs ACTIVE on another
 * host (recorded: `activeAt`, where it runs, how long the evacuation took; the entry stays `evacuated`, its
 * network is checked next, outside the slot), fails, or verify_timeout (counted from the evacuate request) passes.
 *
 * `retarget`: when an evacuation to a chosen spare fails in Nova's scheduler (the spare had no room: its free
 * capacity was unknown, or another incident took it meanwhile), the entry goes back to `pending` without a
 * target instead of failing, once, so the caller may evacuate it again and let the scheduler choose. That
 * decision is made here, before the entry is written final, so no write reopens a failed server.
 */
export async function waitActive(d: StepContext, serverId: string, opts: { retarget?: boolean } = {}): Promise<InstanceEntry> {
  const incident = await d.store.require(d.incidentId);
  const signal = d.signal;
  const entry = await d.store.getInstance(incident.id, serverId);
  if (!entry) throw new Error(`incident ${incident.id} has no entry for server ${serverId}`);
  if (isFinalInstanceState(entry.state) || isActiveElsewhere(entry)) return entry;
  const started = entry.acceptedAt ?? entry.requestedAt ?? d.clock.now();
  const deadline = started + d.evacuation.verifyTimeoutMs;
  let last = 'not checked';
  let readFailed = false;
  for (;;) {
    let v: Arrival;
    try {
      v = await d.compute.whereIs(serverId, incident.host, { signal, expect: arrivesAs(entry) });
      if (v.kind === 'gone') {
        await d.store.addTimeline(incident.id, { step: 'verify', level: 'info', message: `server ${entry.name} was deleted during the incident`, serverId });
        return d.store.updateInstance(incident.id, serverId, 'deleted', unlessSettled({ finishedAt: d.clock.now() }));
      }
    } catch (err) {
      // A garbled or failed read proves nothing either way: "cannot verify", asked again until the deadline.
      if (!isRetryable(err) || signal?.aborted) throw err;
      v = { kind: 'waiting', why: `cannot verify: ${errorMessage(err)}` };
      if (!readFailed) {
        readFailed = true;
        await d.store.addTimeline(incident.id, { step: 'verify', level: 'warning', serverId, message: `${entry.name}: ${v.why}; asking again` });
      }
    }
    if (v.kind === 'arrived') return markActive(d, entry, v.host, v.tookMs);
    if (v.kind === 'failed') {
      const spare = entry.target;
      if (opts.retarget && spare !== null && entry.retargetedFrom === undefined && entry.state === 'evacuated' && v.noRoom) {
        await note(d, 'evacuate', 'warning', `${entry.name}: evacuation to ${spare} failed (${v.why}); evacuating it again without a target, the scheduler chooses`, { serverId });
        return d.store.updateInstance(d.incidentId, serverId, 'retargeted', (e) => (e.state !== 'evacuated' || e.retargetedFrom !== undefined
          ? undefined : { target: null, retargetedFrom: spare, error: undefined }));
      }
      // The scheduler itself found no host (no target was named, or the named spare already refused it once):
      // it waits for room (the capacity gate) instead of failing. Nova ended that evacuation (migration in
      // error, the server still on the source), so a later request is no duplicate.
      if (opts.retarget && waitsForRoom(d.evacuation) && entry.state === 'evacuated' && v.noRoom && (spare === null || entry.retargetedFrom !== undefined)) {
        const now = d.clock.now();
        await note(d, 'evacuate', 'warning', `${entry.name}: Nova's scheduler found no host for it (${v.why}); it waits for room`, { serverId });
        return d.store.updateInstance(d.incidentId, serverId, 'no_room', (e) => (e.state !== 'evacuated' ? undefined
          : { target: null, acceptedAt: undefined, activeAt: undefined, awaitingSince: e.awaitingSince ?? now, noRoom: `Nova's scheduler: ${v.why}` }));
      }
      return fail(d, entry, v.why);
    }
    last = v.why;
    if (d.clock.now() >= deadline) return fail(d, entry, `not verified within ${formatDuration(d.evacuation.verifyTimeoutMs)}: ${last}`);
    await d.sleep(d.evacuation.verifyPollIntervalMs, signal);
  }
}

/** The cloud shows the server running on `host`: recorded before its network is looked at, so that part can run apart. */
async function markActive(d: StepContext, entry: InstanceEntry, host: string, tookMs: number | undefined): Promise<InstanceEntry> {
  const activeAt = d.clock.now();
  const took = evacuationDuration(entry, tookMs, activeAt);
  const active = await d.store.updateInstance(d.incidentId, entry.id, 'running_elsewhere', unlessSettled({ target: host, activeAt, evacuationMs: took }));
  await d.store.addTimeline(d.incidentId, {
    step: 'verify', level: 'info', serverId: entry.id,
    message: `${entry.name} ${arrivesAs(entry) === 'SHUTOFF' ? 'is SHUTOFF (stopped, as it was)' : 'runs ACTIVE'} on ${host} (evacuation took ${formatDuration(took)})`,
  });
  return active;
}

async function fail(d: StepContext, entry: InstanceEntry, why: string): Promise<InstanceEntry> {
  d.metrics?.evacuations?.inc({ result: 'failed' });
  await d.store.addTimeline(d.incidentId, { step: 'verify', level: 'critical', message: `${entry.name}: ${why}`, serverId: entry.id });
  return d.store.updateInstance(d.incidentId, entry.id, 'failed', unlessSettled({ error: why, finishedAt: d.clock.now() }));
}

/**
 * From the evacuation's acceptance to the server running ACTIVE: as the cloud timed it when it says (`tookMs`,
 * from its own records), so a controller that restarted, or polled late, does not count its own absence;
 * otherwise from the recorded acceptance to now.
 */
export function evacuationDuration(entry: InstanceEntry, tookMs: number | undefined, now: number): number {
  return tookMs ?? Math.max(0, now - (entry.acceptedAt ?? entry.requestedAt ?? now));
}

/**
 * The status the cloud shows a server in right after its move: a stopped server stays SHUTOFF (measured on
 * Nova); everything else, reset ones included, comes back ACTIVE (a state to put back is restored after).
 */
export function arrivesAs(entry: Pick<InstanceEntry, 'recovery'>): 'ACTIVE' | 'SHUTOFF' {
  return entry.recovery?.expect === 'SHUTOFF' && entry.recovery.restore === undefined ? 'SHUTOFF' : 'ACTIVE';
}
