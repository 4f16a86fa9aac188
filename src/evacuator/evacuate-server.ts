import { assertFenced } from '../incidents/fence-guard.js';
import type { InstanceEntry } from '../incidents/types.js';
import { isFinalInstanceState } from '../incidents/types.js';
import { MOVE_OUTCOME_UNKNOWN, SOURCE_IN_USE } from '../compute/types.js';
import { CmphaError, errorMessage } from '../shared/errors.js';
import { unlessSettled } from '../incidents/instance-transitions.js';
import type { StepContext } from '../pipeline/steps/context.js';
import type { Guest } from '../compute/types.js';
import { lockForRecovery } from './server-locks.js';

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

    const server = await d.compute.guest(serverId, { signal });
    if (server === null) {
      await timeline(d, incident.id, serverId, 'info', `server ${entry.name} was deleted during the incident`);
      return d.store.updateInstance(incident.id, serverId, 'deleted', unlessSettled({ finishedAt: d.clock.now() }));
    }
    if (entry.state === 'pending') {
      await lockForRecovery(d, entry, server, incident);
      if (await resetIfStuck(d, entry, server, source)) continue;
    }
    const verdict = await d.compute.moveState(server, source, { signal, ...(entry.requestedAt !== undefined ? { since: entry.requestedAt } : {}) });
    if (verdict.kind === 'in-flight' || verdict.kind === 'done') {
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
      await timeline(d, incident.id, serverId, 'warning', `${entry.name}: the earlier evacuate request left no trace in ${d.compute.names.cloud} after ${settleMs} ms; requesting again`);
    }

    const slot = await d.gate.acquire(incident.id, signal);
    if (slot.held) {
      // The gate held us for a while: look once more right before the POST. Admitted at once, the look just
      // taken is as fresh as a second one would be, and the record below still refuses a move already made.
      const again = await d.compute.guest(serverId, { signal });
      const v2 = again === null ? null : await d.compute.moveState(again, source, { signal, ...(entry.requestedAt !== undefined ? { since: entry.requestedAt } : {}) });
      if (v2?.kind !== 'none') continue;
    }

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
      await d.compute.move(serverId, entry.target, { signal }).finally(() => slot.settle().catch(() => {}));
    } catch (err) {
      // Not leading: nothing was sent; the record says "requested", which the leader re-reads and settles.
      if (err instanceof CmphaError && err.code === 'deposed') throw err;
      if (err instanceof CmphaError && err.code === SOURCE_IN_USE) {
        // The cloud refused before acting: no evacuation exists, so the entry goes back to pending.
        await d.store.updateInstance(incident.id, serverId, 'in_use_refused', { lastRequestAt: undefined, error: errorMessage(err) });
        throw new CmphaError('nova_service_in_use', `${entry.name}: ${d.compute.names.cloud} says ${source} is still in use: ${errorMessage(err)}`, { retryable: true, cause: err });
      }
      if (err instanceof CmphaError && !err.retryable && err.code !== MOVE_OUTCOME_UNKNOWN) {
        await timeline(d, incident.id, serverId, 'critical', `${entry.name}: ${d.compute.names.cloud} refused the evacuation: ${err.message}`);
        d.metrics?.evacuations?.inc({ result: 'failed' });
        return d.store.updateInstance(incident.id, serverId, 'failed', unlessSettled({ error: err.message, finishedAt: d.clock.now() }));
      }
      await timeline(d, incident.id, serverId, 'warning', `${entry.name}: outcome of the evacuate request unknown (${errorMessage(err)}); re-reading ${d.compute.names.cloud}`);
      continue;
    }
    // Another run may have seen it move (or settled it) first: then there is nothing to record.
    const accepted = await d.store.updateInstance(incident.id, serverId, 'accepted', (e) => (e.state === 'evacuated' || isFinalInstanceState(e.state)
      ? undefined : { acceptedAt: d.clock.now(), error: undefined }));
    await timeline(d, incident.id, serverId, 'info', `${d.compute.names.cloud} accepted the evacuation of ${entry.name}`);
    return accepted;
  }
}

/**
 * A server the cloud will not move as it is (a task its dead host will never run; Nova before Zed refuses a task,
 * every release refuses PAUSED, SUSPENDED, RESCUE) is reset first, behind the fence guard. Asked again whenever
 * the cloud still shows it so (the reset is idempotent), so a crash between the record and the request cannot
 * strand it; the timeline says once what it was and why. True when a reset was sent (read the server again).
 */
async function resetIfStuck(d: StepContext, entry: InstanceEntry, server: Guest, source: string): Promise<boolean> {
  const reset = d.compute.resetStuck;
  if (!reset || !entry.recovery?.reset || server.host !== source) return false;
  const now = d.compute.recoveryOf(server);
  if (now.kind !== 'move' || !now.reset) return false;
  await assertFenced(d, `reset ${entry.name}`);
  const at = d.clock.now();
  const e = await d.store.updateInstance(d.incidentId, entry.id, 'reset_requested', (x) => (x.state !== 'pending' ? undefined : { resetAt: x.resetAt ?? at }));
  if (e.state !== 'pending') return true;
  if (e.resetAt === at) {
    await timeline(d, d.incidentId, entry.id, 'warning', `${entry.name} was ${server.status} (vm_state ${server.vmState ?? '?'}, task ${server.taskState ?? 'none'}): ${now.reset.why}; `
      + 'resetting it (admin reset-state to error) before evacuating');
  }
  await reset(entry.id, { signal: d.signal });
  return true;
}
