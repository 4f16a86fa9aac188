import type { Guest } from '../compute/types.js';
import type { InstanceEntry } from '../incidents/types.js';
import { errorMessage } from '../shared/errors.js';
import { note, type StepContext } from '../pipeline/steps/context.js';

// cmpha locks each server for its recovery, so that its owner cannot act on it mid-evacuation (Nova lets an
// admin evacuate a locked server and keeps the lock: measured). The reason names the incident; it is how a later
// start tells cmpha's leftover locks from its owners'.

export const LOCK_REASON_PREFIX = 'cmpha: recovery of incident ';

export function lockReason(incidentId: string, host: string): string {
  return `${LOCK_REASON_PREFIX}${incidentId} (host ${host} failed); unlocked when the recovery ends`;
}

/** The incident a lock reason of cmpha's names; null for anyone else's lock. */
export function incidentOfLock(reason: string | null | undefined): string | null {
  if (!reason?.startsWith(LOCK_REASON_PREFIX)) return null;
  const id = reason.slice(LOCK_REASON_PREFIX.length).split(/\s/)[0];
  return id ? id : null;
}

/**
 * Before a server's first evacuate request: cmpha's lock (recorded in the entry before it is asked for, so a
 * crash in between leaves a lock the next start finds by its reason), or its owner's lock recorded as theirs.
 * Nothing when the cloud has no locks or the entry already says whose lock it is.
 */
export async function lockForRecovery(d: StepContext, entry: InstanceEntry, server: Guest, incident: { id: string; host: string }): Promise<void> {
  const lock = d.compute.lock;
  if (!lock || entry.lock !== undefined || entry.state !== 'pending') return;
  const ours = incidentOfLock(server.lockedReason);
  if (server.locked === true && ours === null) {
    const reason = server.lockedReason ?? null;
    const e = await d.store.updateInstance(incident.id, entry.id, 'lock_recorded', (x) => (x.lock !== undefined || x.state !== 'pending' ? undefined : { lock: { by: 'owner', reason } }));
    if (e.lock?.by === 'owner') {
      await note(d, 'evacuate', 'info', `${entry.name} is locked by its owner${reason ? ` ("${reason}")` : ''}: evacuated as admin, and it stays locked`, { serverId: entry.id });
    }
    return;
  }
  const reason = lockReason(incident.id, incident.host);
  const e = await d.store.updateInstance(incident.id, entry.id, 'lock_recorded', (x) => (x.lock !== undefined || x.state !== 'pending' ? undefined : { lock: { by: 'cmpha', reason } }));
  if (e.lock?.by !== 'cmpha' || e.lock.reason !== reason) return;
  await lock(entry.id, reason, { signal: d.signal });
  await note(d, 'evacuate', 'info', `${entry.name} locked for its recovery ("${reason}")`, { serverId: entry.id });
}

/**
 * When the incident ends: lifts the locks cmpha took (never an owner's). A failure is noted and left to the
 * leftover-lock sweep (`releaseLeftoverLocks`), which finds the lock by its reason once the incident is closed.
 */
export async function unlockAfterRecovery(d: StepContext, instances: readonly InstanceEntry[]): Promise<void> {
  const unlock = d.compute.unlock;
  if (!unlock) return;
  const ours = instances.filter((e) => e.lock?.by === 'cmpha' && e.state !== 'deleted');
  if (ours.length === 0) return;
  const failed: string[] = [];
  for (const e of ours) {
    try {
      await unlock(e.id, { signal: d.signal });
    } catch (err) {
      if (d.signal?.aborted) throw err;
      failed.push(`${e.name}: ${errorMessage(err)}`);
    }
  }
  const owners = instances.filter((e) => e.lock?.by === 'owner').length;
  await note(d, 'unlock', failed.length > 0 ? 'warning' : 'info',
    `unlocked ${ours.length - failed.length} server(s) cmpha had locked for the recovery`
    + (owners > 0 ? `; ${owners} locked by their owners stay locked` : '')
    + (failed.length > 0 ? `; could not unlock ${failed.join('; ')} (retried by the leftover-lock sweep)` : ''));
}
