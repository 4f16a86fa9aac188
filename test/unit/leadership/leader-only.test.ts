import { describe, expect, it } from 'vitest';
import { leaderOnlyFenceDriver, leaderOnlyNova } from '../../../src/leadership/leader-only.js';
import type { FenceDriver } from '../../../src/fencing/types.js';
import type { NovaApi } from '../../../src/openstack/types.js';
import { CmphaError } from '../../../src/shared/errors.js';
import type { Leadership } from '../../../src/leadership/leadership.js';

const deposed: Leadership = { assertLeading: () => Promise.reject(new CmphaError('deposed', 'deposed: epoch 3 no longer leads')) };
const leading: Leadership = { assertLeading: () => Promise.resolve() };

function recordingNova(calls: string[]): NovaApi {
  const rec = (name: string, value: unknown = undefined) => async () => { calls.push(name); return value as never; };
  return {
    microversion: rec('microversion', '2.93'), listComputeServices: rec('listComputeServices', []), updateService: rec('updateService'),
    listHypervisors: rec('listHypervisors', []), listAggregates: rec('listAggregates', []), listServerGroups: rec('listServerGroups', []), addHostToAggregate: rec('addHostToAggregate'),
    listServersOnHost: rec('listServersOnHost', []), listServersChangedSince: rec('listServersChangedSince', []), getServer: rec('getServer', null), evacuate: rec('evacuate'),
    liveMigrate: rec('liveMigrate'), listMigrations: rec('listMigrations', []), reboot: rec('reboot'),
    listLockedServers: rec('listLockedServers', []), resetState: rec('resetState'), lock: rec('lock'), unlock: rec('unlock'), powerAction: rec('powerAction'),
  };
}

describe('leader-only Nova and BMC', () => {
  it('a deposed process reaches Nova for reads only: every mutating call is refused before it leaves', async () => {
    const calls: string[] = [];
    const nova = leaderOnlyNova(recordingNova(calls), deposed);
    await nova.listComputeServices();
    await nova.getServer('s1');
    await nova.listMigrations({ instanceId: 's1' });
    for (const call of [
      () => nova.updateService('svc', { forcedDown: true }), () => nova.addHostToAggregate('a', 'h'),
      () => nova.evacuate('s1', 'spare1'), () => nova.liveMigrate('s1'), () => nova.reboot('s1', 'HARD'),
      () => nova.resetState('s1', 'error'), () => nova.lock('s1', 'cmpha'), () => nova.unlock('s1'), () => nova.powerAction('s1', 'os-stop'),
    ]) await expect(call()).rejects.toMatchObject({ code: 'deposed' });
    expect(calls).toEqual(['listComputeServices', 'getServer', 'listMigrations']);
  });

  it('the leader passes through', async () => {
    const calls: string[] = [];
    const nova = leaderOnlyNova(recordingNova(calls), leading);
    await nova.evacuate('s1');
    await nova.updateService('svc', { status: 'disabled' });
    expect(calls).toEqual(['evacuate', 'updateService']);
  });

  it('a deposed process never powers a host off or on, and may still read its power', async () => {
    const calls: string[] = [];
    const driver: FenceDriver = {
      kind: 'ipmi', target: '127.0.0.1:623',
      powerStatus: async () => { calls.push('status'); return 'on'; },
      powerOff: async () => { calls.push('off'); },
      powerOn: async () => { calls.push('on'); },
    };
    const guarded = leaderOnlyFenceDriver(driver, deposed);
    const signal = new AbortController().signal;
    expect(await guarded.powerStatus(signal)).toBe('on');
    await expect(guarded.powerOff(signal)).rejects.toMatchObject({ code: 'deposed' });
    await expect(guarded.powerOn(signal)).rejects.toMatchObject({ code: 'deposed' });
    expect(calls).toEqual(['status']);
  });
});
