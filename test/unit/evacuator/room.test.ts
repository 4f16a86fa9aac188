import { describe, expect, it } from 'vitest';
import { findRoom, waitsForRoom, type RoomHost } from '../../../src/evacuator/room.js';

const host = (name: string, o: Partial<RoomHost> = {}): RoomHost => ({ host: name, serviceId: `svc-${name}`, spare: false, ours: false, enabled: true, ...o });
const need = { vcpus: 4, ramMb: 8192 };

describe('findRoom', () => {
  it('takes a host in service or a spare the incident holds before claiming a free spare', () => {
    const hosts = [host('spare9', { spare: true, enabled: false, freeVcpus: 8, freeRamMb: 16384 }), host('c2', { freeVcpus: 4, freeRamMb: 8192 })];
    expect(findRoom(need, hosts, true)).toMatchObject({ kind: 'room', claim: false, host: { host: 'c2' } });
    expect(findRoom(need, [hosts[0]!, host('c2', { freeVcpus: 3, freeRamMb: 8192 })], true)).toMatchObject({ kind: 'room', claim: true, host: { host: 'spare9' } });
    expect(findRoom(need, [host('s1', { spare: true, ours: true, freeVcpus: 4, freeRamMb: 9000 })], false)).toMatchObject({ kind: 'room', claim: false });
  });

  it('claims no new spare when the incident may not take more; a disabled host in service does not count', () => {
    const r = findRoom(need, [host('spare9', { spare: true, enabled: false, freeVcpus: 8, freeRamMb: 16384 }), host('c3', { enabled: false, freeVcpus: 32, freeRamMb: 99999 })], false);
    expect(r).toEqual({ kind: 'none', why: 'no host has 4 vCPU and 8192 MB free (no enabled host or usable spare in its zone)' });
  });

  it('unknown figures fit; a host the group policy forbids is named', () => {
    expect(findRoom(need, [host('c2')], true)).toMatchObject({ kind: 'room', host: { host: 'c2' } });
    expect(findRoom(need, [host('c2', { freeVcpus: 8, freeRamMb: 9000 })], true, (h) => h !== 'c2')).toEqual({
      kind: 'none', why: 'no host with room keeps its server group\'s policy (c2 would break it) (free: c2 8 vCPU, 9000 MB)',
    });
  });

  it('capacity_wait = 0 turns waiting off; absent means the default wait', () => {
    expect(waitsForRoom({ capacityWaitMs: 0 })).toBe(false);
    expect(waitsForRoom({})).toBe(true);
  });
});
