import { assertFenced } from '../incidents/fence-guard.js';
import type { IncidentRecord, InstanceEntry } from '../incidents/types.js';
import { isFinalInstanceState } from '../incidents/types.js';
import { NOVA_EVACUATE_OUTCOME_UNKNOWN } from '../openstack/errors.js';
import type { Migration, Server } from '../openstack/types.js';
import { CmphaError, errorMessage } from '../shared/errors.js';
import { unlessSettled } from '../incidents/instance-transitions.js';
import type { StepContext } from '../pipeline/steps/context.js';
import { computeHosts } from './compute-hosts.js';
import { TERMINAL_MIGRATION } from './types.js';

export const OUTCOME_UNKNOWN = NOVA_EVACUATE_OUTCOME_UNKNOWN;

export function isStillInUse(err: unknown): boolean {
  return (err instanceof CmphaError && err.code === 'nova_service_in_use') || /still in use/i.test(errorMessage(err));
}

/** Evacuation migrations of this server away from `source`, newest first. */
export function evacuationsFrom(migrations: readonly Migration[], source: string): Migration[] {
  return migrations
    .filter((m) => m.type === 'evacuation' && m.sourceCompute === source)
    .sort((a, b) => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0));
}

async function timeline(d: StepContext, incidentId: string, serverId: string, level: 'info' | 'warning' | 'critical', message: string) {
  d.logger[level === 'info' ? 'info' : 'warn']({ incidentId, serverId }, message);
  await d.store.addTimeline(incidentId, { step: 'evacuate', level, message, serverId });
}

/**
 * Asks Nova to evacuate one server, at most once per real need. Before every POST it re-reads the server
 * and its evacuation migrations; the request is written to the incident before the POST and its outcome
 * after, so a crash in between leads to re-reading Nova, never to a blind second POST (Nova accepts a
 * duplicate evacuate and the server ends broken).
 *
 * Returns the entry: `evacuated` (done: verify next) or settled (`deleted`, `failed`, ...). Throws a retryable
 * CmphaError when waiting longer may help (server busy, outcome still unclear), and `nova_service_in_use` when
 * Nova answers that the source service is still in use (the caller forces it down again).
 */
export async function requestEvacuation(d: StepContext, serverId: string): Promise<InstanceEntry> {
  const incident = await assertFenced(d, `evacuate ${serverId}`);
  const source = incident.host;
  const signal = d.signal;
  const settleMs = d.unknownSettleMs ?? 10_000;
  for (;;) {
    const entry = await d.store.getInstance(incident.id, serverId);
    if (!entry) throw new CmphaError('instance_not_found', `incident ${incident.id} has no entry for server ${serverId}`);
    if (isFinalInstanceState(entry.state) || entry.state === 'evacuated') return entry;

    const server = await d.nova.getServer(serverId, { signal });
    if (server === null) {
      await timeline(d, incident.id, serverId, 'info', `server ${entry.name} was deleted during the incident`);
      return d.store.updateInstance(incident.id, serverId, 'deleted', unlessSettled({ finishedAt: d.clock.now() }));
    }
    const verdict = await inspect(d, incident, entry, server, signal);
    if (verdict.kind === 'moving') {
      await timeline(d, incident.id, serverId, 'info', `${entry.name}: ${verdict.why}; not sending evacuate`);
      return d.store.updateInstance(incident.id, serverId, 'already_moving', unlessSettled((e) => ({ acceptedAt: e.acceptedAt ?? d.clock.now() })));
    }
    if (verdict.kind === 'busy') {
      throw new CmphaError('server_busy', `${entry.name} (${serverId}): ${verdict.why}`, { retryable: true });
    }
    if (entry.state === 'evacuating' && entry.requestedAt !== undefined) {
      const last = entry.lastRequestAt ?? entry.requestedAt;
      const wait = last + settleMs - d.clock.now();
      if (wait > 0) {
        // An earlier POST's outcome is unknown and Nova shows nothing yet: it may still be on its way.
        await d.sleep(Math.min(wait, d.evacuation.verifyPollIntervalMs), signal);
        continue;
      }
      await timeline(d, incident.id, serverId, 'warning', `${entry.name}: the earlier evacuate request left no trace in Nova after ${settleMs} ms; requesting again`);
    }

    const slot = await d.gate.acquire(incident.id, signal);
    // The gate may have held us for a while: look once more right before the POST.
    const again = await d.nova.getServer(serverId, { signal });
    if (again === null) continue;
    const v2 = await inspect(d, incident, entry, again, signal);
    if (v2.kind !== 'go') continue;

    await assertFenced(d, `evacuate ${entry.name}`);
    const now = d.clock.now();
    // Never over an entry another run moved on meanwhile (the table would refuse it too): look again instead.
    const requested = await d.store.updateInstance(incident.id, serverId, 'evacuate_requested', (e) => (e.state === 'evacuated' || isFinalInstanceState(e.state)
      ? undefined : { attempts: e.attempts + 1, requestedAt: e.requestedAt ?? now, lastRequestAt: now }));
    if (requested.lastRequestAt !== now || requested.state !== 'evacuating') {
      await slot.settle().catch(() => {});
      continue;
    }
    await timeline(d, incident.id, serverId, 'info', `evacuate requested for ${entry.name} → ${entry.target ?? 'scheduler'}`);
    try {
      await d.nova.evacuate(serverId, entry.target ?? undefined, { signal }).finally(() => slot.settle().catch(() => {}));
    } catch (err) {
      // Not leading: nothing was sent; the record says "requested", which the leader re-reads and settles.
      if (err instanceof CmphaError && err.code === 'deposed') throw err;
      if (isStillInUse(err)) {
        // Nova refused before acting: no evacuation exists, so the entry goes back to pending.
        await d.store.updateInstance(incident.id, serverId, 'in_use_refused', { lastRequestAt: undefined, error: errorMessage(err) });
        throw new CmphaError('nova_service_in_use', `${entry.name}: Nova says ${source} is still in use: ${errorMessage(err)}`, { retryable: true, cause: err });
      }
      if (err instanceof CmphaError && !err.retryable && err.code !== OUTCOME_UNKNOWN) {
        await timeline(d, incident.id, serverId, 'critical', `${entry.name}: Nova refused the evacuation: ${err.message}`);
        d.metrics?.evacuations?.inc({ result: 'failed' });
        return d.store.updateInstance(incident.id, serverId, 'failed', unlessSettled({ error: err.message, finishedAt: d.clock.now() }));
      }
      await timeline(d, incident.id, serverId, 'warning', `${entry.name}: outcome of the evacuate request unknown (${errorMessage(err)}); re-reading Nova`);
      continue;
    }
    // Another run may have seen it move (or settled it) first: then there is nothing to record.
    const accepted = await d.store.updateInstance(incident.id, serverId, 'accepted', (e) => (e.state === 'evacuated' || isFinalInstanceState(e.state)
      ? undefined : { acceptedAt: d.clock.now(), error: undefined }));
    await timeline(d, incident.id, serverId, 'info', `Nova accepted the evacuation of ${entry.name}`);
    return accepted;
  }
}

type Verdict = { kind: 'go' } | { kind: 'moving'; why: string } | { kind: 'busy'; why: string };

/** What Nova says about the server right now, as far as sending an evacuate goes. */
async function inspect(d: StepContext, incident: IncidentRecord, entry: InstanceEntry, server: Server, signal?: AbortSignal): Promise<Verdict> {
  if (server.host !== null && server.host !== incident.host) {
    // Believed only when Nova lists that host as a compute service: a garbled host name is no proof it moved.
    const known = await computeHosts(d.nova, { signal });
    if (known?.has(server.host)) return { kind: 'moving', why: `already left ${incident.host} (now on ${server.host})` };
    return { kind: 'busy', why: `Nova names host ${JSON.stringify(server.host)}, ${known ? 'which is not a nova-compute service it lists' : 'and its compute service list could not be read'}; cannot tell where the server runs` };
  }
  const migrations = evacuationsFrom(await d.nova.listMigrations({ instanceId: server.id, type: 'evacuation' }, { signal }), incident.host);
  const inFlight = migrations.find((m) => !TERMINAL_MIGRATION.has(m.status.toLowerCase()));
  if (inFlight) return { kind: 'moving', why: `an evacuation is already in flight (migration ${inFlight.id}, ${inFlight.status})` };
  if (entry.requestedAt !== undefined) {
    const ours = migrations.find((m) => (m.createdAt?.getTime() ?? 0) >= entry.requestedAt! - 60_000 && m.status.toLowerCase() === 'done');
    if (ours) return { kind: 'moving', why: `evacuation migration ${ours.id} is done` };
  }
  if (server.taskState !== null) return { kind: 'busy', why: `task_state is ${server.taskState}; waiting for it to clear before evacuating` };
  return { kind: 'go' };
}
