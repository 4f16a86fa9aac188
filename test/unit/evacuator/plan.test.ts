import { describe, expect, it } from 'vitest';
import { planInstances, priorityOf } from '../../../src/evacuator/select.js';
import { freeCapacity } from '../../../src/compute/nova/capacity.js';
import { hostOf } from '../../../src/compute/nova/index.js';
import { isSpareHost, planSpares } from '../../../src/evacuator/spare-plan.js';
import type { ComputeService, Server } from '../../../src/openstack/types.js';
import { evacuationDefaults } from '../pipeline/harness.js';
import { novaRecoveryOf } from '../../../src/compute/nova/server-states.js';
import { EVACUABLE_STATES } from '../../../src/config/schema.js';

const server = (id: string, o: Partial<Server> = {}): Server => ({
  id, name: id, status: 'ACTIVE', taskState: null, vmState: 'active', host: 'cmp1', addresses: [], metadata: {},
  userId: 'u', projectId: 'p', flavor: { vcpus: 2, ramMb: 2048 }, ...o,
});

/** `[evacuation] states` as its default was before SHUTOFF, PAUSED, SUSPENDED and RESCUE were moved: an old explicit config. */
const OLD_DEFAULT_STATES = ['ACTIVE', 'ERROR'];

describe('instance selection', () => {
  it('by default moves SHUTOFF too; with the Nova table a server mid-task counts as the state under it, a shelved one is left by the cloud, not by policy', () => {
    const plan = planInstances([
      server('off', { status: 'SHUTOFF', vmState: 'stopped' }),
      server('reboot', { status: 'HARD_REBOOT', taskState: 'rebooting_hard' }),
      server('paused', { status: 'PAUSED', vmState: 'paused' }),
      server('shelved', { status: 'SHELVED', vmState: 'shelved' }),
    ], 'cmp1', { ...evacuationDefaults, states: [...EVACUABLE_STATES] }, new Map(), {}, novaRecoveryOf);
    const by = (id: string) => plan.find((e) => e.id === id)!;
    expect(by('off')).toMatchObject({ was: { status: 'SHUTOFF', taskState: null, lasting: 'SHUTOFF' }, recovery: { expect: 'SHUTOFF' } });
    expect(by('off').state).toBeUndefined();
    expect(by('reboot')).toMatchObject({ was: { status: 'HARD_REBOOT', taskState: 'rebooting_hard', lasting: 'ACTIVE' }, recovery: { expect: 'ACTIVE', reset: { why: expect.stringContaining('rebooting_hard') } } });
    expect(by('paused')).toMatchObject({ recovery: { expect: 'PAUSED', restore: 'pause' } });
    expect(by('shelved')).toMatchObject({ state: 'skipped', leftBy: 'cloud', skipReason: expect.stringContaining('shelved') });
    // An old explicit `states = ACTIVE,ERROR`: SHUTOFF is left by that choice (not a failure); a hard reboot still moves.
    const old = planInstances([server('off', { status: 'SHUTOFF', vmState: 'stopped' }), server('reboot', { status: 'HARD_REBOOT', taskState: 'rebooting_hard' })],
      'cmp1', { ...evacuationDefaults, states: OLD_DEFAULT_STATES }, new Map(), {}, novaRecoveryOf);
    expect(old.find((e) => e.id === 'off')).toMatchObject({ state: 'skipped', leftBy: 'policy', skipReason: 'status SHUTOFF is not one of ACTIVE, ERROR' });
    expect(old.find((e) => e.id === 'reboot')!.state).toBeUndefined();
  });

  it('a cloud that cannot move a stopped server: a failure when the operator listed SHUTOFF, the operator\'s choice when not', () => {
    const cannot = (s: Server) => (s.status === 'SHUTOFF' ? { kind: 'leave' as const, lasting: 'SHUTOFF', why: 'this cloud moves only running guests' } : novaRecoveryOf(s));
    const off = server('off', { status: 'SHUTOFF', vmState: 'stopped' });
    const listed = planInstances([off], 'cmp1', { ...evacuationDefaults, states: [...EVACUABLE_STATES] }, new Map(), {}, cannot);
    expect(listed[0]).toMatchObject({ state: 'skipped', leftBy: 'cloud', skipReason: 'this cloud moves only running guests' });
    const unlisted = planInstances([off], 'cmp1', { ...evacuationDefaults, states: OLD_DEFAULT_STATES }, new Map(), {}, cannot);
    expect(unlisted[0]).toMatchObject({ state: 'skipped', leftBy: 'policy', skipReason: 'status SHUTOFF is not one of ACTIVE, ERROR' });
  });

  it('moves ACTIVE and ERROR servers, highest priority first, and says why others stay', () => {
    const plan = planInstances([
      server('low', { metadata: { ha_priority: '1' } }),
      server('off', { status: 'SHUTOFF' }),
      server('high', { metadata: { ha_priority: '10' } }),
      server('err', { status: 'ERROR' }),
      server('junk', { metadata: { ha_priority: 'urgent' } }),
    ], 'cmp1', { ...evacuationDefaults, states: OLD_DEFAULT_STATES, priorityMetadataKey: 'ha_priority' });
    expect(plan.map((e) => e.id)).toEqual(['high', 'low', 'err', 'junk', 'off']);
    expect(plan.find((e) => e.id === 'off')).toMatchObject({ state: 'skipped', skipReason: 'status SHUTOFF is not one of ACTIVE, ERROR' });
    expect(plan.filter((e) => e.state === undefined).map((e) => e.id)).toEqual(['high', 'low', 'err', 'junk']);
  });

  it('follows a server caught in REBUILD (an evacuation under way when the recovery resumed) instead of leaving it out', () => {
    const plan = planInstances([server('moving', { status: 'REBUILD', taskState: 'rebuild_spawning' }), server('off', { status: 'SHUTOFF' })], 'cmp1', { ...evacuationDefaults, states: OLD_DEFAULT_STATES });
    expect(plan.map((e) => [e.id, e.state ?? 'pending'])).toEqual([['moving', 'pending'], ['off', 'skipped']]);
  });

  it('honours require_metadata (servers without it are left by policy)', () => {
    const plan = planInstances([server('a', { metadata: { ha: 'true' } }), server('b', { metadata: { ha: 'false' } }), server('c')],
      'cmp1', { ...evacuationDefaults, requireMetadata: { key: 'ha', value: 'true' } });
    expect(plan.map((e) => [e.id, e.state ?? 'pending', e.skipReason ?? ''])).toEqual([
      ['a', 'pending', ''], ['b', 'excluded', 'left by policy: require_metadata ha=true (not set)'], ['c', 'excluded', 'left by policy: require_metadata ha=true (not set)'],
    ]);
  });

  it('reads priorities as numbers, anything else as 0', () => {
    expect(priorityOf(server('x', { metadata: { p: ' 7 ' } }), 'p')).toBe(7);
    expect(priorityOf(server('x', { metadata: { p: 'high' } }), 'p')).toBe(0);
    expect(priorityOf(server('x', { metadata: { p: '7' } }), undefined)).toBe(0);
  });
});

describe('spare planning', () => {
  const need = (id: string, vcpus: number, ramMb = 1024) => ({ id, vcpus, ramMb });
  const cand = (host: string, freeVcpus?: number, freeRamMb?: number) => ({ host, serviceId: `svc-${host}`, enabled: false, freeVcpus, freeRamMb });

  it('takes the tightest spare that holds everything', () => {
    const p = planSpares({ candidates: [cand('big', 64, 1e6), cand('fit', 8, 1e6), cand('small', 4, 1e6)], needs: [need('a', 4), need('b', 4)], maxSpares: 1 });
    expect(p.spares).toEqual([{ host: 'fit', serviceId: 'svc-fit', enabled: false, serverIds: ['a', 'b'] }]);
    expect(p.unplaced).toEqual([]);
  });

  it('fills a too-small spare with the highest priority servers that fit and leaves the rest to the scheduler', () => {
    const p = planSpares({ candidates: [cand('s1', 6, 1e6)], needs: [need('first', 4), need('second', 4), need('third', 2)], maxSpares: 1 });
    expect(p.spares[0]!.serverIds).toEqual(['first', 'third']);
    expect(p.unplaced).toEqual(['second']);
  });

  it('checks memory as well as vCPUs', () => {
    const p = planSpares({ candidates: [cand('s1', 64, 4096)], needs: [need('a', 1, 4096), need('b', 1, 1)], maxSpares: 1 });
    expect(p.spares[0]!.serverIds).toEqual(['a']);
    expect(p.unplaced).toEqual(['b']);
  });

  it('uses several spares only when allowed', () => {
    const input = { candidates: [cand('s1', 4, 1e6), cand('s2', 4, 1e6)], needs: [need('a', 4), need('b', 4)] };
    expect(planSpares({ ...input, maxSpares: 1 }).unplaced).toEqual(['b']);
    const two = planSpares({ ...input, maxSpares: 2 });
    expect(two.spares.map((s) => [s.host, s.serverIds])).toEqual([['s1', ['a']], ['s2', ['b']]]);
    expect(planSpares({ ...input, maxSpares: 0 }).spares).toEqual([]);
  });

  it('rejects a spare nothing fits on', () => {
    const p = planSpares({ candidates: [cand('tiny', 1, 1e6)], needs: [need('a', 4)], maxSpares: 1 });
    expect(p.spares).toEqual([]);
    expect(p.unplaced).toEqual(['a']);
    expect(p.rejected[0]).toMatchObject({ host: 'tiny', reason: expect.stringMatching(/too small/) });
  });

  it('computes free capacity from usage, or from flavors when usage is absent (2.88+)', () => {
    const hv = { id: '1', hostname: 'h', serviceHost: 'h', state: 'up' as const, status: 'disabled' as const, vcpus: 16, memoryMb: 32768 };
    expect(freeCapacity({ ...hv, vcpusUsed: 4, memoryMbUsed: 8192 }, undefined)).toEqual({ freeVcpus: 12, freeRamMb: 24576 });
    expect(freeCapacity(hv, [server('x', { flavor: { vcpus: 8, ramMb: 16384 } })])).toEqual({ freeVcpus: 8, freeRamMb: 16384 });
    expect(freeCapacity({ ...hv, vcpus: undefined, memoryMb: undefined }, [])).toEqual({});
  });

  it('knows reserved spares by list or by disabled reason', () => {
    // The Nova adapter reads the spare mark (spare_reason_prefix) off the disabled reason.
    const svc = (host: string, o: Partial<ComputeService> = {}) => hostOf({
      id: host, binary: 'nova-compute', host, state: 'up', status: 'enabled', forcedDown: false, disabledReason: null, updatedAt: null, ...o,
    }, { reasonPrefix: 'cmpha', spareReasonPrefix: 'down_prepare' });
    expect(isSpareHost(svc('a', { status: 'disabled', disabledReason: 'down_prepare spare' }), [])).toBe(true);
    expect(isSpareHost(svc('b', { status: 'disabled', disabledReason: 'maintenance' }), [])).toBe(false);
    expect(isSpareHost(svc('c'), ['c'])).toBe(true);
    expect(isSpareHost(svc('d'), [])).toBe(false);
  });
});
