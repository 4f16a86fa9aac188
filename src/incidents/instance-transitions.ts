import { CmphaError } from '../shared/errors.js';
import { isFinalInstanceState, type InstanceEntry, type InstanceState } from './types.js';

/**
 * What happens to one server of an incident. Every write of an instance entry names one of these (the store
 * refuses a write without one), and the table below says where it leads; anything else is refused, so no code
 * path can, say, send a server back to `pending` after Nova accepted its evacuation, or write `evacuating`
 * (the record made before an evacuate POST) over an entry another run already settled.
 */
export type InstanceEvent =
  /** The spare step recorded where the server goes (null: the scheduler chooses). Only before any request. */
  | 'target_chosen'
  /**
   * cmpha locks the server for its recovery (or records its owner's lock, left alone): recorded before the lock
   * is asked for, so a crash after it leaves a lock the next start finds by its reason.
   */
  | 'lock_recorded'
  /** A task the dead host will never run is cleared (admin reset) before the move: recorded before it is sent. */
  | 'reset_requested'
  /** An evacuate POST is about to be sent: recorded first, so a crash after it leads to re-reading Nova. */
  | 'evacuate_requested'
  /**
   * Nova refused the POST with "Compute service of HOST is still in use": it did not act, no evacuation
   * exists, and the server may be asked for again once the host is forced down again.
   */
  | 'in_use_refused'
  /** Nova accepted the evacuate POST. */
  | 'accepted'
  /** Nova shows the server already moving or moved (an earlier request of ours took): nothing is sent. */
  | 'already_moving'
  /** Nova shows the server ACTIVE on another host with its evacuation done: its network is checked next. */
  | 'running_elsewhere'
  /**
   * The evacuation to the chosen spare failed in Nova's scheduler (migration error, server still on the
   * source). Decided before the entry is final: instead of failing, the entry goes back to `pending` without a
   * target, once (`retargetedFrom` records the spare), so the scheduler may find the server a host. Nova's
   * definitive failure makes that second request no blind repeat.
   */
  | 'retargeted'
  /** The server's addresses stayed silent: one hard reboot, recorded before it is sent. */
  | 'reboot_requested'
  /** Arrived: the action that puts it back in the state it had (stop, pause, suspend) is about to be sent. */
  | 'restore_requested'
  /** Shows on its new host the state it had (a stopped, paused or suspended server does not answer): recovered. */
  | 'state_verified'
  /** Moved, but does not show the state it had within the verify timeout: final, not a recovery. */
  | 'state_not_restored'
  /** Running on its new host with its network back: recovered. */
  | 'network_verified'
  /** Running on its new host without its network: final, not a recovery. */
  | 'network_degraded'
  /** Deleted in Nova during the incident. */
  | 'deleted'
  /** Its evacuation failed, gave up, or did not finish: final. */
  | 'failed'
  /**
   * The single-writer proof, run after every server was verified and before the incident closes, found a disk
   * written from two places. `verified` says the evacuation is over; it does not yet say no second writer
   * remains, so this is the one way out of a settled state, and it leads to another settled one (`failed`):
   * nothing is evacuated again. Moving the proof before `verified` would hold every server's verification
   * (and its downtime figure) until the last server moved; an explicit edge says the same thing honestly.
   */
  | 'double_writer'
  /**
   * No host the cloud would place it on has room for it (capacity read before any request, or the cloud's
   * scheduler answered "no valid host" to a request without a target): it waits, visible, for room. From
   * `evacuated` only on the cloud's definitive refusal (migration in error, the server still on the source), so
   * asking again later is no blind repeat.
   */
  | 'no_room'
  /** Room appeared (a spare, a host enabled or returned, a server gone): back to `pending`, to be moved now. */
  | 'room_found';

const GIVE_UP = { deleted: 'deleted', failed: 'failed' } as const;

/**
 * state × event → state. A missing entry is an illegal move. `skipped`, `excluded`, `degraded`, `failed` and `deleted`
 * have no way out; `verified` has only `double_writer`, which leads to `failed`: no move from a settled state
 * leads back to one where anything is done to the server (a test checks this on the data).
 */
export const INSTANCE_TRANSITIONS: Readonly<Record<InstanceState, Partial<Readonly<Record<InstanceEvent, InstanceState>>>>> = {
  // `running_elsewhere` from `pending`: an evacuation this incident did not record took (a run whose record was
  // lost with a Redis restart, resumed from Nova under the same id, finds the server already ACTIVE elsewhere).
  pending: {
    target_chosen: 'pending', lock_recorded: 'pending', reset_requested: 'pending', evacuate_requested: 'evacuating', already_moving: 'evacuated', running_elsewhere: 'evacuated',
    no_room: 'awaiting_capacity', ...GIVE_UP,
  },
  // Waiting sends nothing: only room found, the wait bound (`failed`) or a deletion ends it; another look that
  // still finds no room stays here. Nova showing it moved (an operator's own evacuation) is followed like any move.
  awaiting_capacity: { no_room: 'awaiting_capacity', room_found: 'pending', already_moving: 'evacuated', running_elsewhere: 'evacuated', ...GIVE_UP },
  // A request whose outcome is unknown and that left no trace in Nova is sent again: still `evacuating`.
  evacuating: { evacuate_requested: 'evacuating', in_use_refused: 'pending', accepted: 'evacuated', already_moving: 'evacuated', running_elsewhere: 'evacuated', ...GIVE_UP },
  evacuated: {
    running_elsewhere: 'evacuated', reboot_requested: 'evacuated', retargeted: 'pending', no_room: 'awaiting_capacity', network_verified: 'verified', network_degraded: 'degraded',
    restore_requested: 'evacuated', state_verified: 'verified', state_not_restored: 'degraded', ...GIVE_UP,
  },
  verified: { double_writer: 'failed' },
  skipped: {},
  excluded: {},
  degraded: {},
  failed: {},
  deleted: {},
};

/** States an entry is recorded in (the inventory's choice: to move, or left in place). */
export const INITIAL_INSTANCE_STATES: readonly InstanceState[] = ['pending', 'skipped', 'excluded'];

export function nextInstanceState(from: InstanceState, event: InstanceEvent): InstanceState | undefined {
  return INSTANCE_TRANSITIONS[from][event];
}

/** Where `event` leads, wherever it is allowed (each event has one destination; a test checks it). */
export function destinationOf(event: InstanceEvent): InstanceState {
  for (const row of Object.values(INSTANCE_TRANSITIONS)) {
    const to = row[event];
    if (to !== undefined) return to;
  }
  throw new Error(`instance event ${event} leads nowhere`);
}

/**
 * The check the store runs inside every instance write: `event` must be allowed from the entry's state. The
 * error names the server, both states and the event.
 */
export function checkInstanceMove(incidentId: string, serverId: string, from: InstanceState, event: InstanceEvent): InstanceState {
  const to = nextInstanceState(from, event);
  if (to === undefined) {
    const would = destinationOf(event);
    throw new CmphaError('instance_illegal_transition',
      `incident ${incidentId} server ${serverId}: illegal move from ${from} to ${would} on ${event}`,
      { context: { incidentId, serverId, from, to: would, event } });
  }
  return to;
}

/** The fields a write may set: the state is the table's, the id and revision the store's. */
export type InstancePatch = Partial<Omit<InstanceEntry, 'rev' | 'id' | 'state'>>;

/**
 * For a write that a concurrent run may have overtaken: nothing to write once the entry is settled (another
 * run finished it first); otherwise `patch`, and the table decides whether the move is legal.
 */
export function unlessSettled(patch: InstancePatch | ((e: InstanceEntry) => InstancePatch)): (e: InstanceEntry) => InstancePatch | undefined {
  return (e) => (isFinalInstanceState(e.state) ? undefined : typeof patch === 'function' ? patch(e) : patch);
}
