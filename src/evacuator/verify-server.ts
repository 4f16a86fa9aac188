import type { IncidentRecord, InstanceEntry } from '../incidents/types.js';
import { isFinalInstanceState } from '../incidents/types.js';
import type { Migration, Server } from '../openstack/types.js';
import { formatDuration } from '../shared/duration.js';
import { networkAdvice } from '../incidents/format.js';
import { errorMessage, isRetryable } from '../shared/errors.js';
import { computeHosts } from './compute-hosts.js';
import { evacuationsFrom } from './evacuate-server.js';
import { downFrom, verifyNetwork } from './verify-network.js';
import type { StepContext } from '../pipeline/steps/context.js';
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

/** Polls until the server is verified, fails, or verify_timeout (counted from the evacuate request) passes. */
export async function verifyServer(d: StepContext, serverId: string): Promise<InstanceEntry> {
  const incident = await d.store.require(d.incidentId);
  const signal = d.signal;
  const entry = await d.store.getInstance(incident.id, serverId);
  if (!entry) throw new Error(`incident ${incident.id} has no entry for server ${serverId}`);
  if (isFinalInstanceState(entry.state)) return entry;
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
        return finish(d, incident.id, serverId, { state: 'deleted', finishedAt: d.clock.now() });
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
    if (v.kind === 'verified') return verifiedActive(d, incident, entry, v.host, latest);
    if (v.kind === 'failed') return fail(d, incident, entry, v.why);
    last = v.why;
    if (d.clock.now() >= deadline) return fail(d, incident, entry, `not verified within ${formatDuration(d.evacuation.verifyTimeoutMs)}: ${last}`);
    await d.sleep(d.evacuation.verifyPollIntervalMs, signal);
  }
}

/**
 * Nova shows the server ACTIVE on `host`: now its network (ports, then the addresses that answered before the
 * failure). Verified only when that is back too; degraded, with what to look at, otherwise. The downtime runs
 * from the last sign of life before the failure to the first answer on the new host.
 */
async function verifiedActive(d: StepContext, incident: IncidentRecord, entry: InstanceEntry, host: string, migration: Migration | undefined): Promise<InstanceEntry> {
  const activeAt = d.clock.now();
  const took = evacuationDuration(entry, migration, activeAt);
  await d.store.addTimeline(incident.id, {
    step: 'verify', level: 'info', serverId: entry.id,
    message: `${entry.name} runs ACTIVE on ${host} (evacuation took ${formatDuration(took)})`,
  });
  const net = await verifyNetwork(d, entry, host);
  const now = d.clock.now();
  const from = downFrom(incident, entry.watch);
  if (net.kind === 'degraded') {
    d.metrics?.evacuations?.inc({ result: 'degraded' });
    await d.store.addTimeline(incident.id, {
      step: 'verify', level: 'critical', serverId: entry.id,
      message: `${entry.name} runs on ${host} without its network: ${net.why}; look at ${networkAdvice(net.issue, host)}`,
    });
    return finish(d, incident.id, entry.id, {
      state: 'degraded', target: host, activeAt, finishedAt: now, error: net.why, networkIssue: net.issue, evacuationMs: took, downFrom: from,
    });
  }
  const back = net.backAt ?? now;
  const done = await finish(d, incident.id, entry.id, {
    state: 'verified', target: host, activeAt, verifiedAt: now, finishedAt: now, error: undefined, evacuationMs: took,
    downFrom: from, ...(net.backAt !== undefined ? { backAt: net.backAt } : {}), downtimeMs: Math.max(0, back - from),
  });
  d.metrics?.evacuations?.inc({ result: 'ok' });
  d.metrics?.evacuationDuration?.observe({}, took / 1000);
  d.metrics?.instanceDowntime?.observe({}, (done.downtimeMs ?? 0) / 1000);
  const checked = (entry.watch?.length ?? 0) > 0 && d.probe;
  await d.store.addTimeline(incident.id, {
    step: 'verify', level: 'info', serverId: entry.id,
    message: checked
      ? `${entry.name} answers again on ${host}: unreachable for ${formatDuration(done.downtimeMs ?? 0)}`
      : `${entry.name} verified on ${host}${d.neutron ? ' (ports bound and ACTIVE)' : ''}; no address of it answered before the failure, so its downtime counts to verification (${formatDuration(done.downtimeMs ?? 0)})`,
  });
  return done;
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
