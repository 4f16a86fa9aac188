import { describe, expect, it } from 'vitest';
import { lastingStateOf, novaRecoveryOf } from '../../../src/compute/nova/server-states.js';

// The table measured on the lab (docs/openstack-lab.md, "Server states on a dead host").
const g = (status: string, vmState: string | null, taskState: string | null = null) => ({ status, vmState, taskState });

describe('what cmpha does with each server a dead host leaves (Nova)', () => {
  it('ACTIVE and ERROR move as they are and come back ACTIVE; SHUTOFF moves and stays SHUTOFF', () => {
    expect(novaRecoveryOf(g('ACTIVE', 'active'))).toEqual({ kind: 'move', lasting: 'ACTIVE', expect: 'ACTIVE' });
    expect(novaRecoveryOf(g('ERROR', 'error'))).toEqual({ kind: 'move', lasting: 'ERROR', expect: 'ACTIVE' });
    expect(novaRecoveryOf(g('SHUTOFF', 'stopped'))).toEqual({ kind: 'move', lasting: 'SHUTOFF', expect: 'SHUTOFF' });
  });

  it('a task the dead host will never run is reset first, and the reset names the task and the status it showed', () => {
    for (const [status, task] of [['HARD_REBOOT', 'rebooting_hard'], ['ACTIVE', 'image_snapshot_pending'], ['RESIZE', 'resize_prep'], ['MIGRATING', 'migrating']] as const) {
      const r = novaRecoveryOf(g(status, 'active', task));
      expect(r).toMatchObject({ kind: 'move', lasting: 'ACTIVE', expect: 'ACTIVE' });
      expect(r.kind === 'move' && r.reset?.why).toContain(`task_state ${task} (status ${status})`);
      expect(r.kind === 'move' && r.restore).toBeUndefined();
    }
  });

  it('a stopped server with a task is reset (losing "stopped"), moved, then stopped again', () => {
    expect(novaRecoveryOf(g('SHUTOFF', 'stopped', 'powering-on'))).toMatchObject({ kind: 'move', lasting: 'SHUTOFF', expect: 'SHUTOFF', restore: 'stop' });
  });

  it('an evacuation under way (REBUILD) is followed, never reset', () => {
    const r = novaRecoveryOf(g('REBUILD', 'active', 'rebuild_spawning'));
    expect(r).toEqual({ kind: 'move', lasting: 'ACTIVE', expect: 'ACTIVE' });
  });

  it('PAUSED and SUSPENDED are reset, moved and put back; RESCUE is reset and moved out of rescue', () => {
    expect(novaRecoveryOf(g('PAUSED', 'paused'))).toMatchObject({ kind: 'move', expect: 'PAUSED', restore: 'pause', reset: { why: expect.stringContaining('vm_state paused') } });
    expect(novaRecoveryOf(g('SUSPENDED', 'suspended'))).toMatchObject({ kind: 'move', expect: 'SUSPENDED', restore: 'suspend' });
    const rescued = novaRecoveryOf(g('RESCUE', 'rescued'));
    expect(rescued).toMatchObject({ kind: 'move', lasting: 'RESCUE', expect: 'ACTIVE', caveat: expect.stringContaining('rescue mode ended') });
    expect(rescued.kind === 'move' && rescued.restore).toBeUndefined();
  });

  it('SHELVED and BUILD are left with why', () => {
    expect(novaRecoveryOf(g('SHELVED', 'shelved'))).toMatchObject({ kind: 'leave', lasting: 'SHELVED', why: expect.stringContaining('Nova evacuates no shelved server') });
    expect(novaRecoveryOf(g('BUILD', 'building', 'spawning'))).toMatchObject({ kind: 'leave', lasting: 'BUILD' });
  });

  it('the lasting state is read from vm_state, or from the status when Nova did not say', () => {
    expect(lastingStateOf(g('HARD_REBOOT', 'active'))).toBe('ACTIVE');
    expect(lastingStateOf(g('SHUTOFF', null))).toBe('SHUTOFF');
  });
});
