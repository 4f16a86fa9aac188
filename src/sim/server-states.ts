import type { VmState } from './types.js';

// Nova's status word, derived as nova/api/openstack/common.py does it: from vm_state, then task_state (a task
// shows through for some states: HARD_REBOOT, RESIZE, MIGRATING, REBUILD, ...; a snapshot does not).

const ACTIVE_TASKS: Readonly<Record<string, string>> = {
  rebooting: 'REBOOT', reboot_pending: 'REBOOT', reboot_started: 'REBOOT',
  rebooting_hard: 'HARD_REBOOT', reboot_pending_hard: 'HARD_REBOOT', reboot_started_hard: 'HARD_REBOOT',
  update_password: 'PASSWORD',
  rebuilding: 'REBUILD', rebuild_block_device_mapping: 'REBUILD', rebuild_spawning: 'REBUILD',
  migrating: 'MIGRATING',
  resize_prep: 'RESIZE', resize_migrating: 'RESIZE', resize_migrated: 'RESIZE', resize_finish: 'RESIZE',
};

const STOPPED_TASKS: Readonly<Record<string, string>> = {
  resize_prep: 'RESIZE', resize_migrating: 'RESIZE', resize_migrated: 'RESIZE', resize_finish: 'RESIZE',
  rebuilding: 'REBUILD', rebuild_block_device_mapping: 'REBUILD', rebuild_spawning: 'REBUILD',
};

const BASE: Readonly<Record<VmState, string>> = {
  active: 'ACTIVE', stopped: 'SHUTOFF', error: 'ERROR', building: 'BUILD', deleted: 'DELETED',
  paused: 'PAUSED', suspended: 'SUSPENDED', rescued: 'RESCUE', resized: 'VERIFY_RESIZE',
  shelved: 'SHELVED', shelved_offloaded: 'SHELVED_OFFLOADED',
};

export function novaStatus(vmState: VmState, taskState: string | null): string {
  if (taskState !== null) {
    if (vmState === 'active' && ACTIVE_TASKS[taskState]) return ACTIVE_TASKS[taskState]!;
    if (vmState === 'stopped' && STOPPED_TASKS[taskState]) return STOPPED_TASKS[taskState]!;
    if (vmState === 'error' && taskState.startsWith('rebuild')) return 'REBUILD';
    if (vmState === 'paused' && taskState === 'migrating') return 'MIGRATING';
  }
  return BASE[vmState];
}

/** Power state Nova reports for a vm_state the simulator settles: 1 running, 3 paused, 4 shutdown, 7 suspended. */
export function powerStateOf(vmState: VmState): number {
  switch (vmState) {
    case 'active': case 'rescued': return 1;
    case 'paused': return 3;
    case 'suspended': return 7;
    default: return 4;
  }
}

/** The status words a test may create a server in (the control API), with the vm_state behind each. */
export const CREATABLE_STATUS: Readonly<Record<string, VmState>> = {
  ACTIVE: 'active', SHUTOFF: 'stopped', ERROR: 'error', PAUSED: 'paused', SUSPENDED: 'suspended', RESCUE: 'rescued', SHELVED: 'shelved',
};
