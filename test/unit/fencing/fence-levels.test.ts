import { describe, expect, it } from 'vitest';
import { fenceLevels, type DeviceResult, type FenceDevice, type FencePlan } from '../../../src/fencing/fence-levels.js';

const opts = { timeoutMs: 1000, pollIntervalMs: 10, attempts: 1 };

/** A device that answers as told and records that it was asked. */
function device(kind: FenceDevice['kind'], result: DeviceResult, calls: string[]): FenceDevice {
  return {
    kind, target: `${kind}-target`,
    async fence(o) {
      calls.push(`${kind}${o.alone ? ' alone' : ''}`);
      return result;
    },
    read: async () => ({ device: kind, answers: true, detail: 'answers' }),
  };
}
const off: DeviceResult = { ok: true, alreadyOff: false, unfenced: false, poweredOff: true, detail: 'power reads back off' };
const cut: DeviceResult = { ok: true, alreadyOff: false, unfenced: false, poweredOff: false, detail: 'blocklisted' };
const fail = (code: string): DeviceResult => ({ ok: false, code, reason: `${code} happened`, lastState: 'unknown' });

describe('fenceLevels', () => {
  it('tries levels in order and stops at the first that confirms', async () => {
    const calls: string[] = [];
    const ceph = device('ceph', cut, calls);
    const plan: FencePlan = { host: 'h', levels: [[device('ipmi', fail('bmc_unreachable'), calls)], [ceph]], storage: ceph };
    const r = await fenceLevels(plan, opts);
    expect(r).toMatchObject({ ok: true, level: 2, devices: ['ceph'], poweredOff: false, alreadyOff: false });
    // The storage device was the winning level: not run a second time.
    expect(calls).toEqual(['ipmi alone', 'ceph alone']);
    expect(r.attempts.map((a) => [a.level, a.kind, a.ok, a.code])).toEqual([[1, 'ipmi', false, 'bmc_unreachable'], [2, 'ceph', true, undefined]]);
  });

  it('a level succeeds only when every device in it confirms', async () => {
    const calls: string[] = [];
    const plan: FencePlan = {
      host: 'h',
      levels: [[device('redfish', off, calls), device('ceph', fail('storage_watchers_remain'), calls)], [device('ipmi', off, calls)]],
    };
    const r = await fenceLevels(plan, opts);
    expect(r).toMatchObject({ ok: true, level: 2, devices: ['ipmi'] });
    expect(calls).toEqual(['redfish', 'ceph', 'ipmi alone']);
  });

  it('applies the storage fence after a power-off level; its failure only warns', async () => {
    const calls: string[] = [];
    const plan: FencePlan = { host: 'h', levels: [[device('ipmi', off, calls)]], storage: device('ceph', fail('ceph_unreachable'), calls) };
    const r = await fenceLevels(plan, opts);
    expect(r).toMatchObject({ ok: true, level: 1, poweredOff: true, storage: { ok: false, code: 'ceph_unreachable' } });
    expect(calls).toEqual(['ipmi alone', 'ceph']);
    expect(r.events.some((e) => e.kind === 'error' && /warning only/.test(e.detail))).toBe(true);
  });

  it('every level failing is one failure that names each level', async () => {
    const calls: string[] = [];
    const plan: FencePlan = { host: 'h', levels: [[device('ipmi', fail('bmc_unreachable'), calls)], [device('ceph', fail('ceph_denied'), calls)]] };
    const r = await fenceLevels(plan, opts);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.code).toBe('fence_levels_failed');
    expect(r.reason).toMatch(/level 1 ipmi bmc_unreachable.*level 2 ceph ceph_denied/);
    expect(r.attempts).toHaveLength(2);
  });

  it('one level of one device keeps that device\'s own code', async () => {
    const r = await fenceLevels({ host: 'h', levels: [[device('ipmi', fail('bmc_auth_failed'), [])]] }, opts);
    expect(r).toMatchObject({ ok: false, code: 'bmc_auth_failed' });
  });

  it('a device that throws fails its level instead of the whole fence', async () => {
    const boom: FenceDevice = { kind: 'ipmi', target: 'x', fence: () => Promise.reject(new Error('bug')), read: async () => ({ device: 'ipmi', answers: false, detail: 'bug' }) };
    const r = await fenceLevels({ host: 'h', levels: [[boom], [device('ceph', cut, [])]] }, opts);
    expect(r).toMatchObject({ ok: true, level: 2 });
  });
});
