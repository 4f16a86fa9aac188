import { CmphaError } from '../shared/errors.js';
import type { IncidentStatus } from './types.js';

/**
 * What happens to an incident. Every status change the store writes names one of these, and the table below
 * says where it leads; anything else is refused, so no code path can, say, evacuate an incident that was
 * never fenced by writing `evacuating` over `awaiting_fence`.
 */
export type IncidentEvent =
  /** The fence step starts (again, after a crash). */
  | 'fence_started'
  /** The power reads back off (or a previous run already proved it). */
  | 'fenced'
  /** Every fence attempt failed: nothing may be forced down or evacuated until a human confirms. */
  | 'fence_failed'
  /** A human confirmed the host is off (`cmpha fence confirm`): recovery continues as if fenced. */
  | 'fence_confirmed'
  /**
   * The fence is tried again (`cmpha fence retry`, or the host's fence settings changed in the config): the same
   * proof is needed, so it leads back to fencing, never past it.
   */
  | 'fence_retry'
  /** Force-down, disable, inventory and spare are done: evacuations start. */
  | 'evacuation_started'
  /** Every evacuation job has ended: the last look at where each server runs. */
  | 'verification_started'
  /** Closed from the instance entries. */
  | 'resolved'
  | 'partial'
  /** Closed because something could not be done (no fencing, a step gave up, the job died). */
  | 'failed'
  /** The host answered again before it was fenced: nothing done. */
  | 'aborted';

const CLOSE_AFTER_FENCE = { resolved: 'resolved', partial: 'partial', failed: 'failed' } as const;

/** status × event → status. A missing entry is an illegal transition. Terminal statuses have no way out. */
export const TRANSITIONS: Readonly<Record<IncidentStatus, Partial<Readonly<Record<IncidentEvent, IncidentStatus>>>>> = {
  open: { fence_started: 'fencing', fenced: 'fenced', fence_failed: 'awaiting_fence', failed: 'failed', aborted: 'aborted' },
  fencing: { fence_started: 'fencing', fenced: 'fenced', fence_failed: 'awaiting_fence', failed: 'failed', aborted: 'aborted' },
  // Waiting for a human: only their confirmation, a retry of the fence, or giving up moves it on. A restart leaves it here.
  awaiting_fence: { fence_confirmed: 'fenced', fence_retry: 'fencing', failed: 'failed', aborted: 'aborted' },
  fenced: { evacuation_started: 'evacuating', ...CLOSE_AFTER_FENCE },
  evacuating: { evacuation_started: 'evacuating', verification_started: 'verifying', ...CLOSE_AFTER_FENCE },
  verifying: { verification_started: 'verifying', ...CLOSE_AFTER_FENCE },
  resolved: {},
  partial: {},
  failed: {},
  aborted: {},
};

export function nextStatus(from: IncidentStatus, event: IncidentEvent): IncidentStatus | undefined {
  return TRANSITIONS[from][event];
}

/** True when `event` may happen in `from` (the store would accept it). */
export function canHappen(from: IncidentStatus, event: IncidentEvent): boolean {
  return nextStatus(from, event) !== undefined;
}

/**
 * The check the store runs on every write that changes the status. With an event, the table must lead from
 * `from` to exactly `to`; without one (older callers), some event must.
 */
export function checkTransition(incidentId: string, from: IncidentStatus, to: IncidentStatus, event?: IncidentEvent): void {
  if (from === to) return;
  const ok = event !== undefined
    ? nextStatus(from, event) === to
    : Object.values(TRANSITIONS[from]).includes(to);
  if (!ok) {
    throw new CmphaError('incident_illegal_transition',
      `incident ${incidentId}: illegal transition from ${from} to ${to}${event ? ` on ${event}` : ''}`,
      { context: { from, to, ...(event ? { event } : {}) } });
  }
}
