import type { IncidentRecord, InstanceEntry } from '../incidents/types.js';
import { isFinalInstanceState } from '../incidents/types.js';
import type { Migration, Server } from '../openstack/types.js';
import { formatDuration } from '../shared/duration.js';
import { evacuationsFrom } from './evacuate-server.js';
import type { StepContext } from '../pipeline/steps/context.js';
import { SUCCESS_MIGRATION } from './types.js';

export type VerifyVerdict =
  | { readonly kind: 'verified'; readonly host: string }
  | { readonly kind: 'failed'; readonly why: string }
  | { readonly kind: 'waiting'; readonly why: string };

/**
 * Pure rule for "this evacuation has finished well": the server runs ACTIVE with no task on a host other
 * than the source. task_state none alone is not enough (Nova once showed it while still on the source),
 * and a `done` migration is only trusted together with the host change it follows.
 */
export function judge(server: Server, source: string, latestMigrationStatus: string | undefined): VerifyVerdict {
  const mig = latestMigrationStatus?.toLowerCase();
  const moved = server.host !== null && server.host !== source;
  if ((mig === 'error' || mig === 'failed') && !moved) return { kind: 'failed', why: `evacuation migration ${mig}` };
  if (!moved) return { kind: 'waiting', why: `still on ${source} (status ${server.status}, task ${server.taskState ?? 'none'}, migration ${mig ?? 'none'})` };
  if (server.taskState !== null) return { kind: 'waiting', why: `on ${server.host}, task ${server.taskState}` };
  if (server.status === 'ACTIVE') return { kind: 'verified', host: server.host! };
  if (server.status === 'ERROR' && (mig === undefined || SUCCESS_MIGRATION.has(mig) || mig === 'error' || mig === 'failed')) {
    return { kind: 'failed', why: `ended in ERROR on ${server.host}` };
  }
  return { kind: 'waiting', why: `on ${server.host}, status ${server.status}` };
}

/** Polls until the server is verified, fails, or verify_timeout (counted from the evacuate request) passes. */
export async function verifyServer(d: StepContext, serverId: string): Promise<InstanceEntry> {
  const incident = await d.store.require(d.incidentId);
  const signal = d.signal;
  let entry = await d.store.getInstance(incident.id, serverId);
  if (!entry) throw new Error(`incident ${incident.id} has no entry for server ${serverId}`);
  if (isFinalInstanceState(entry.state)) return entry;
  const started = entry.acceptedAt ?? entry.requestedAt ?? d.clock.now();
  const deadline = started + d.evacuation.verifyTimeoutMs;
  let last = 'not checked';
  for (;;) {
    const server = await d.nova.getServer(serverId, { signal });
    if (server === null) {
      await d.store.addTimeline(incident.id, { step: 'verify', level: 'info', message: `server ${entry.name} was deleted during the incident`, serverId });
      return finish(d, incident.id, serverId, { state: 'deleted', finishedAt: d.clock.now() });
    }
    const migs = evacuationsFrom(await d.nova.listMigrations({ instanceId: serverId, type: 'evacuation' }, { signal }), incident.host);
    const v = judge(server, incident.host, migs[0]?.status);
    if (v.kind === 'verified') {
      const now = d.clock.now();
      const took = evacuationDuration(entry, migs[0], now);
      entry = await finish(d, incident.id, serverId, {
        state: 'verified',
        target: v.host,
        verifiedAt: now,
        finishedAt: now,
        error: undefined,
        evacuationMs: took,
        downtimeMs: now - incident.failureStartedAt,
      });
      d.metrics?.evacuations?.inc({ result: 'ok' });
      d.metrics?.evacuationDuration?.observe({}, (entry.evacuationMs ?? 0) / 1000);
      await d.store.addTimeline(incident.id, {
        step: 'verify', level: 'info', serverId,
        message: `${entry.name} runs ACTIVE on ${v.host} (evacuation took ${formatDuration(entry.evacuationMs ?? 0)})`,
      });
      return entry;
    }
    if (v.kind === 'failed') return fail(d, incident, entry, v.why);
    last = v.why;
    if (d.clock.now() >= deadline) return fail(d, incident, entry, `not verified within ${formatDuration(d.evacuation.verifyTimeoutMs)}: ${last}`);
    await d.sleep(d.evacuation.verifyPollIntervalMs, signal);
  }
}

async function fail(d: StepContext, incident: IncidentRecord, entry: InstanceEntry, why: string): Promise<InstanceEntry> {
  d.metrics?.evacuations?.inc({ result: 'failed' });
  await d.store.addTimeline(incident.id, { step: 'verify', level: 'critical', message: `${entry.name}: ${why}`, serverId: entry.id });
  return finish(d, incident.id, entry.id, { state: 'failed', error: why, finishedAt: d.clock.now() });
}

function finish(d: StepContext, incidentId: string, serverId: string, patch: Partial<InstanceEntry>) {
  return d.store.updateInstance(incidentId, serverId, (e) => (isFinalInstanceState(e.state) ? undefined : { ...e, ...patch }));
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
