import { isTerminalStatus, type IncidentStatus } from '../incidents/types.js';

/**
 * Whether the recovery of an incident has ended, and how: `closed` (a terminal status: no phase runs again, a
 * job that finds it returns), `waiting` (awaiting_fence: nothing runs until an operator confirms the fence or the
 * host comes back; a job that finds it returns, and `cmpha evacuate` stops following), or null (it runs).
 * The one answer for the queue's processors, the runner's phases, the failed-job net and the CLI: read from the
 * incident's record, never from how a job ended.
 */
export function recoveryEnd(status: IncidentStatus): 'closed' | 'waiting' | null {
  if (isTerminalStatus(status)) return 'closed';
  if (status === 'awaiting_fence') return 'waiting';
  return null;
}
