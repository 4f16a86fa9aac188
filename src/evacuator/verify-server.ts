import type { InstanceEntry } from '../incidents/types.js';
import { isFinalInstanceState } from '../incidents/types.js';
import type { Migration, Server } from '../openstack/types.js';
import { formatDuration } from '../shared/duration.js';
import { errorMessage, isRetryable } from '../shared/errors.js';
import { computeHosts } from './compute-hosts.js';
import { evacuationsFrom } from './evacuate-server.js';
import { unlessSettled } from '../incidents/instance-transitions.js';
import { isActiveElsewhere } from './entry-state.js';
import { verifyNetworkStep } from './verify-network.js';
import { note, serverOutcome, type ServerInput, type ServerOutcome, type StepContext } from '../pipeline/steps/context.js';
import { SUCCESS_MIGRATION } from './types.js';

export type VerifyVerdict =
  | { readonly kind: 'verified'; readonly host: string }
  | { readonly kind: 'failed'; readonly why: string }
  | { readonly kind: 'waiting'; readonly why: string };

/**
 * Pure rule for "this evacuation has finished well": the server runs ACTIVE with no task on a host other
 * than the source, that host is a nova-compute service Nova lists, and the evacuation migration is `done`
 * (or already `completed`). task_state none alone is not enough (Nova once showed it while still on the
 * source), a host change without a finished migration is not enough either, and a host name Nova's service
 * list does not know (a garbled answer) is never believed. Anything short of that is `waiting`: "cannot
 * verify yet", polled again until verify_timeout, then failed.
 *
 * `computeHosts`: the nova-compute hosts Nova lists now; null when that list could not be read (only consulted
 * for a server that reads ACTIVE with no task elsewhere, so the caller need list them only then).
 */
export function judge(server: Server, source: string, latestMigrationStatus: string | undefined, computeHosts: ReadonlySet<string> | null): VerifyVerdict {
  const mig = latestMigrationStatus?.toLowerCase();
  const moved = server.host !== null && server.host !== source;
  if ((mig === 'error' || mig === 'failed') && !moved) return { kind: 'failed', why: `evacuation migration ${mig}` };
  if (!moved) return { kind: 'waiting', why: `still on ${source} (status ${server.status}, task ${server.taskState ?? 'none'}, migration ${mig ?? 'none'})` };
  if (server.taskState !== null) return { kind: 'waiting', why: `on ${server.host}, task ${server.taskState}` };
  if (server.status === 'ACTIVE') {
    if (computeHosts === null) return { kind: 'waiting', why: `cannot verify: Nova names host ${server.host} but its compute service list could not be read` };
    if (!computeHosts.has(server.host!)) return { kind: 'waiting', why: `cannot verify: Nova names host ${JSON.stringify(server.host)}, which is not a nova-compute service it lists` };
    if (mig !== undefined && SUCCESS_MIGRATION.has(mig)) return { kind: 'verified', host: server.host! };
    return { kind: 'waiting', why: `cannot verify: ACTIVE on ${server.host} but the evacuation migration is ${mig ?? 'missing'}, not done` };
  }
  if (server.status === 'ERROR' && (mig === undefined || SUCCESS_MIGRATION.has(mig) || mig === 'error' || mig === 'failed')) {
    return { kind: 'failed', why: `ended in ERROR on ${server.host}` };
  }
  return { kind: 'waiting', why: `on ${server.host}, status ${server.status}` };
}

/** Both parts, one after the other: ACTIVE on another host, then the network (for a server left mid-way). */
export async function verifyServer(d: StepContext, input: ServerInput): Promise<ServerOutcome> {
  const active = await waitActive(d, input.serverId);
  return isActiveElsewhere(active) ? verifyNetworkStep(d, input) : serverOutcome(active);
}

/** What Nova's scheduler says when the chosen host had no room: the server is still on its source. */
const NO_ROOM = /evacuation migration (error|failed)/;

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
    let v: VerifyVerdict;
    let latest: Migration | undefined;
    try {
      const server = await d.nova.getServer(serverId, { signal });
      if (server === null) {
        await d.store.addTimeline(incident.id, { step: 'verify', level: 'info', message: `server ${entry.name} was deleted during the incident`, serverId });
        return d.store.updateInstance(incident.id, serverId, 'deleted', unlessSettled({ finishedAt: d.clock.now() }));
      }
      latest = evacuationsFrom(await d.nova.listMigrations({ instanceId: serverId, type: 'evacuation' }, { signal }), incident.host)[0];
      const finished = server.host !== null && server.host !== incident.host && server.taskState === null && server.status === 'ACTIVE';
      v = judge(server, incident.host, latest?.status, finished ? await computeHosts(d.nova, { signal }) : null);
    } catch (err) {
      // A garbled or failed read proves nothing either way: "cannot verify", asked again until the deadline.
      if (!isRetryable(err) || signal?.aborted) throw err;
      v = { kind: 'waiting', why: `cannot verify: ${errorMessage(err)}` };
      if (!readFailed) {
        readFailed = true;
        await d.store.addTimeline(incident.id, { step: 'verify', level: 'warning', serverId, message: `${entry.name}: ${v.why}; asking again` });
      }
    }
    if (v.kind === 'verified') return markActive(d, entry, v.host, latest);
    if (v.kind === 'failed') {
      const spare = entry.target;
      if (opts.retarget && spare !== null && entry.retargetedFrom === undefined && entry.state === 'evacuated' && NO_ROOM.test(v.why)) {
        await note(d, 'evacuate', 'warning', `${entry.name}: evacuation to ${spare} failed (${v.why}); evacuating it again without a target, the scheduler chooses`, { serverId });
        return d.store.updateInstance(d.incidentId, serverId, 'retargeted', (e) => (e.state !== 'evacuated' || e.retargetedFrom !== undefined
          ? undefined : { target: null, retargetedFrom: spare, error: undefined }));
      }
      return fail(d, entry, v.why);
    }
    last = v.why;
    if (d.clock.now() >= deadline) return fail(d, entry, `not verified within ${formatDuration(d.evacuation.verifyTimeoutMs)}: ${last}`);
    await d.sleep(d.evacuation.verifyPollIntervalMs, signal);
  }
}

/** Nova shows the server ACTIVE on `host`: recorded before its network is looked at, so that part can run apart. */
async function markActive(d: StepContext, entry: InstanceEntry, host: string, migration: Migration | undefined): Promise<InstanceEntry> {
  const activeAt = d.clock.now();
  const took = evacuationDuration(entry, migration, activeAt);
  const active = await d.store.updateInstance(d.incidentId, entry.id, 'running_elsewhere', unlessSettled({ target: host, activeAt, evacuationMs: took }));
  await d.store.addTimeline(d.incidentId, {
    step: 'verify', level: 'info', serverId: entry.id,
    message: `${entry.name} runs ACTIVE on ${host} (evacuation took ${formatDuration(took)})`,
  });
  return active;
}

async function fail(d: StepContext, entry: InstanceEntry, why: string): Promise<InstanceEntry> {
  d.metrics?.evacuations?.inc({ result: 'failed' });
  await d.store.addTimeline(d.incidentId, { step: 'verify', level: 'critical', message: `${entry.name}: ${why}`, serverId: entry.id });
  return d.store.updateInstance(d.incidentId, entry.id, 'failed', unlessSettled({ error: why, finishedAt: d.clock.now() }));
}

/**
 * From the evacuation's acceptance to the server running ACTIVE, in Nova's own times when its migration has
 * both (created = accepted, updated when it went done), so a controller that restarted, or polled late, does
 * not count its own absence; otherwise from the recorded acceptance to now.
 */
export function evacuationDuration(entry: InstanceEntry, migration: Migration | undefined, now: number): number {
  const created = migration?.createdAt?.getTime();
  const updated = migration?.updatedAt?.getTime();
  if (created !== undefined && updated !== undefined && SUCCESS_MIGRATION.has(migration!.status.toLowerCase()) && updated >= created) {
    return updated - created;
  }
  return Math.max(0, now - (entry.acceptedAt ?? entry.requestedAt ?? now));
}
