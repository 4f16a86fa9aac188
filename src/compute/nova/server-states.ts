import type { Guest, GuestRecovery } from '../types.js';

// What cmpha does with each server a dead host leaves behind, from Nova's vm_state and task_state. Measured on
// the real lab (docs/openstack-lab.md, "Server states on a dead host"): Nova evacuates only vm_state active,
// stopped or error with no task (409 otherwise); a task the dead compute was to run never clears; os-resetState
// clears it; a stopped server stays stopped through an evacuation; PAUSED, SUSPENDED and RESCUE are refused as
// they are; a shelved server is offloaded at once by default and then has no host.

/** The status word a vm_state lasts in, as Nova shows it with no task. */
const LASTING: Readonly<Record<string, string>> = {
  active: 'ACTIVE', stopped: 'SHUTOFF', error: 'ERROR', paused: 'PAUSED', suspended: 'SUSPENDED', rescued: 'RESCUE',
  resized: 'VERIFY_RESIZE', shelved: 'SHELVED', shelved_offloaded: 'SHELVED_OFFLOADED', building: 'BUILD', deleted: 'DELETED',
  soft_deleted: 'SOFT_DELETED',
};

const REBUILDING = /^rebuild/;

/** The vm_state behind a status, for a cloud that did not say (an old answer): the status read as its lasting state. */
function vmStateOf(guest: Pick<Guest, 'status' | 'vmState'>): string {
  if (guest.vmState) return guest.vmState.toLowerCase();
  const byStatus = Object.entries(LASTING).find(([, st]) => st === guest.status.toUpperCase());
  return byStatus?.[0] ?? guest.status.toLowerCase();
}

/** The state a server lasts in under any task (a server mid-hard-reboot is ACTIVE underneath). */
export function lastingStateOf(guest: Pick<Guest, 'status' | 'vmState'>): string {
  return LASTING[vmStateOf(guest)] ?? guest.status.toUpperCase();
}

export function novaRecoveryOf(guest: Pick<Guest, 'status' | 'vmState' | 'taskState'>): GuestRecovery {
  const vm = vmStateOf(guest);
  const lasting = lastingStateOf(guest);
  const task = guest.taskState;
  // An evacuation under way (a recovery resumed after a crash): followed to its end, never reset.
  const rebuilding = task !== null && REBUILDING.test(task);
  const stuck = task !== null && !rebuilding
    ? { why: `task_state ${task} (status ${guest.status}) will never finish: the host that was to run it is dead, and Nova evacuates no server with a task` }
    : undefined;
  const refused = (what: string) => ({ why: `Nova evacuates no server in vm_state ${vm} (${what})${task !== null && !rebuilding ? `; task_state ${task}` : ''}` });
  switch (vm) {
    case 'active':
    case 'error':
      // Nova brings an evacuated ERROR server back ACTIVE (measured).
      return { kind: 'move', lasting, expect: 'ACTIVE', ...(stuck ? { reset: stuck } : {}) };
    case 'stopped':
      // Nova keeps a stopped server stopped through an evacuation; a reset (to error) loses that, so it is
      // stopped again once it arrives.
      return stuck
        ? { kind: 'move', lasting, expect: 'SHUTOFF', reset: stuck, restore: 'stop' }
        : { kind: 'move', lasting, expect: 'SHUTOFF' };
    case 'paused':
      return {
        kind: 'move', lasting, expect: 'PAUSED', reset: refused('paused'), restore: 'pause',
        caveat: 'its memory was lost with the host: it boots again on its new host, then is paused',
      };
    case 'suspended':
      return {
        kind: 'move', lasting, expect: 'SUSPENDED', reset: refused('suspended'), restore: 'suspend',
        caveat: 'its saved memory was lost with the host: it boots again on its new host, then is suspended',
      };
    case 'rescued':
      return {
        kind: 'move', lasting, expect: 'ACTIVE', reset: refused('rescued'),
        caveat: 'rescue mode ended: the rescue disk was on the dead host; it boots from its own disk (rescue it again if needed)',
      };
    case 'resized':
      return {
        kind: 'move', lasting, expect: 'ACTIVE', reset: refused('a resize waiting to be confirmed'),
        caveat: 'its resize waited to be confirmed: it moves with its new flavor (revert is no longer possible)',
      };
    case 'shelved':
      return { kind: 'leave', lasting, why: 'shelved: Nova evacuates no shelved server, and offloading it needs its host; unshelve it once the host is back, or offload it then' };
    case 'shelved_offloaded':
      return { kind: 'leave', lasting, why: 'shelved and offloaded: it has no host and needs no recovery' };
    case 'building':
      return { kind: 'leave', lasting, why: 'still being built when the host died: Nova cannot rebuild a server that never started; delete it and create it again' };
    default:
      return { kind: 'leave', lasting, why: `vm_state ${vm} (status ${guest.status}): not a state cmpha recovers` };
  }
}
