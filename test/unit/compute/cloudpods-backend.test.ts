import { describe, expect, it } from 'vitest';
import { CloudpodsBackend, capacityOf, guestOf, inspectMove, judgeArrival, statusWord } from '../../../src/compute/cloudpods/index.js';
import { incidentReason } from '../../../src/compute/marker.js';
import { MOVE_OUTCOME_UNKNOWN, SOURCE_IN_USE } from '../../../src/compute/types.js';
import { CLOUDPODS_MIGRATE_OUTCOME_UNKNOWN, OpenStackError } from '../../../src/openstack/errors.js';
import type { HostAction, RegionApi, RegionGuest, RegionHost } from '../../../src/openstack/cloudpods.js';

// The Cloudpods adapter behind the compute-backend port: host_status as the cloud's verdict, offline as the
// isolation, enabled + cmpha_reason metadata as the mark, a rescue-mode migrate as the move (never resent).

const AT = Date.parse('2026-12-07T20:00:00.000Z');
const PREFIXES = { reasonPrefix: 'cmpha', spareReasonPrefix: 'down_prepare' };

function host(name: string, over: Partial<RegionHost> = {}): RegionHost {
  return {
    id: `id-${name}`, name, hostStatus: 'online', status: 'running', enabled: true, hostType: 'hypervisor', updatedAt: new Date(AT),
    accessIp: '198.18.0.1', zone: 'zone1', metadata: {}, autoMigrateOnHostDown: false, ...over,
  };
}

function guest(over: Partial<RegionGuest> = {}): RegionGuest {
  return {
    id: 'vm1', name: 'vm1', status: 'running', hostId: 'id-cp1', host: 'cp1', projectId: 'p1', updatedAt: new Date(AT),
    nics: [{ ip: '198.18.1.5', ip6: null, networkId: 'provider' }], eip: null, metadata: {}, storageTypes: ['rbd'], disks: [{ id: 'disk-vm1', storageType: 'rbd' }], hypervisor: 'kvm', ...over,
  };
}

class RecordingRegion implements RegionApi {
  readonly calls: { op: string; id: string; body?: unknown }[] = [];
  hosts: RegionHost[] = [host('cp1'), host('cp2'), host('spare1', { enabled: false, metadata: { cmpha_reason: 'down_prepare kept back' } })];
  guests: RegionGuest[] = [guest()];
  failMigrate: unknown = null;

  async listHosts(opts: { name?: string } = {}) { return this.hosts.filter((h) => opts.name === undefined || h.name === opts.name); }
  async listGuests(filter: { hostId?: string }) { return this.guests.filter((g) => filter.hostId === undefined || g.host === filter.hostId); }
  async getGuest(id: string) { return this.guests.find((g) => g.id === id) ?? null; }
  async hostAction(id: string, action: HostAction, body: Record<string, unknown>) { this.calls.push({ op: action, id, body }); }
  async migrate(id: string, input: { preferHostId: string | null; rescueMode: boolean }) {
    this.calls.push({ op: 'migrate', id, body: input });
    if (this.failMigrate) throw this.failMigrate;
  }
  async liveMigrate(id: string, preferHostId: string | null) { this.calls.push({ op: 'live-migrate', id, body: preferHostId }); }
  async restart(id: string) { this.calls.push({ op: 'restart', id }); }
  async stop(id: string) { this.calls.push({ op: 'stop', id }); }
}

describe('Cloudpods adapter: hosts', () => {
  it('online/offline is the cloud\'s verdict and the isolation; cmpha\'s mark is the cmpha_reason metadata', async () => {
    const region = new RecordingRegion();
    region.hosts[0] = host('cp1', { hostStatus: 'offline', enabled: false, metadata: { cmpha_reason: incidentReason('cmpha', 'cp1-1', AT) } });
    const hosts = await new CloudpodsBackend(region, PREFIXES).hosts();
    expect(hosts.map((h) => [h.name, h.state, h.isolated, h.status, h.marker])).toEqual([
      ['cp1', 'down', true, 'disabled', { incident: { id: 'cp1-1', at: AT }, spare: false }],
      ['cp2', 'up', false, 'enabled', { incident: null, spare: false }],
      ['spare1', 'up', false, 'disabled', { incident: null, spare: true }],
    ]);
    expect(hosts[1]!.heartbeatAt).toEqual(new Date(AT));
  });

  it('isolation is offline with a reason naming the incident; the mark is the metadata first, then disable; enable deletes it', async () => {
    const region = new RecordingRegion();
    const b = new CloudpodsBackend(region, PREFIXES);
    const cp1 = await b.host('cp1');
    await expect(b.mark(cp1, 'cp1-1', AT)).rejects.toMatchObject({ code: 'not_isolated' });
    await b.isolate(cp1, { incidentId: 'cp1-1' });
    await b.mark({ ...cp1, isolated: true }, 'cp1-1', AT);
    await b.enable(cp1);
    expect(region.calls).toEqual([
      { op: 'offline', id: 'id-cp1', body: { reason: 'cmpha incident cp1-1: host fenced' } },
      { op: 'metadata', id: 'id-cp1', body: { cmpha_reason: 'cmpha incident cp1-1 2026-12-07T20:00:00.000Z' } },
      { op: 'disable', id: 'id-cp1', body: {} },
      { op: 'metadata', id: 'id-cp1', body: { cmpha_reason: 'none' } },
      { op: 'enable', id: 'id-cp1', body: {} },
    ]);
  });

  it('a host comes back from isolation only by its own agent\'s ping: never put online by hand', async () => {
    const region = new RecordingRegion();
    region.hosts[0] = host('cp1', { hostStatus: 'offline' });
    const b = new CloudpodsBackend(region, PREFIXES);
    expect(await b.endIsolation(await b.host('cp1'))).toMatch(/host agent to ping/);
    region.hosts[0] = host('cp1');
    expect(await b.endIsolation(await b.host('cp1'))).toBeNull();
    expect(region.calls).toEqual([]);
  });

  it('capacity by the region\'s commit arithmetic', () => {
    expect(capacityOf(host('s', { cpuCount: 16, cpuCommitBound: 4, cpuCommit: 10, memSize: 65536, memReserved: 4096, memCommitBound: 1.5, memCommit: 8192 })))
      .toEqual({ freeVcpus: 54, freeRamMb: 83_968, source: 'cloudpods' });
    expect(capacityOf(host('s'))).toMatchObject({ source: 'unknown' });
    expect(capacityOf(undefined)).toMatchObject({ source: 'unknown' });
  });
});

describe('Cloudpods adapter: guests and moves', () => {
  it('status words for the evacuation policy; the region\'s own word stays in vmState', () => {
    expect(['running', 'unknown', 'ready', 'start_migrate', 'migrating', 'migrate_failed', 'suspend', 'disk_failed'].map(statusWord))
      .toEqual(['ACTIVE', 'ACTIVE', 'SHUTOFF', 'REBUILD', 'REBUILD', 'ERROR', 'SUSPENDED', 'DISK_FAILED']);
  });

  it('a move is a rescue-mode migrate to the chosen spare (or the region\'s choice)', async () => {
    const region = new RecordingRegion();
    const b = new CloudpodsBackend(region, PREFIXES);
    await b.move('vm1', 'spare1');
    await b.move('vm1', null);
    expect(region.calls).toEqual([
      { op: 'migrate', id: 'vm1', body: { preferHostId: 'spare1', rescueMode: true } },
      { op: 'migrate', id: 'vm1', body: { preferHostId: null, rescueMode: true } },
    ]);
  });

  it('a migrate that may have acted is outcome-unknown; one refused because the host is online is source-in-use', async () => {
    const region = new RecordingRegion();
    const b = new CloudpodsBackend(region, PREFIXES);
    region.failMigrate = new OpenStackError(CLOUDPODS_MIGRATE_OUTCOME_UNKNOWN, 'reset', { service: 'cloudpods', method: 'POST', path: '/servers/vm1/migrate' });
    await expect(b.move('vm1', 'spare1')).rejects.toMatchObject({ code: MOVE_OUTCOME_UNKNOWN });
    region.failMigrate = new OpenStackError('cloudpods_bad_request', "Host status online, can't do rescue mode migration", { service: 'cloudpods', method: 'POST', path: '/servers/vm1/migrate', status: 400 });
    await expect(b.move('vm1', 'spare1')).rejects.toMatchObject({ code: SOURCE_IN_USE });
    expect(region.calls.filter((c) => c.op === 'migrate')).toHaveLength(2);
  });

  it('sees a migration under way (the region would accept a second one), and a guest already moved', () => {
    const hosts = new Set(['cp1', 'cp2', 'spare1']);
    expect(inspectMove(guest({ status: 'start_migrate' }), 'cp1', null)).toMatchObject({ kind: 'in-flight' });
    expect(inspectMove(guest({ status: 'migrating' }), 'cp1', null)).toMatchObject({ kind: 'in-flight' });
    expect(inspectMove(guest({ status: 'unknown' }), 'cp1', null)).toEqual({ kind: 'none' });
    expect(inspectMove(guest({ status: 'migrate_failed' }), 'cp1', null)).toEqual({ kind: 'none' });
    expect(inspectMove(guest({ host: 'spare1', status: 'starting' }), 'cp1', hosts)).toMatchObject({ kind: 'done' });
    expect(inspectMove(guest({ host: 'gh0st' }), 'cp1', hosts)).toMatchObject({ kind: 'busy' });
  });

  it('arrived only running on another host the region lists; failed when the task ended on the source', () => {
    const hosts = new Set(['cp1', 'spare1']);
    expect(judgeArrival(guest({ host: 'spare1' }), 'cp1', hosts)).toEqual({ kind: 'arrived', host: 'spare1' });
    expect(judgeArrival(guest({ host: 'spare1', status: 'starting' }), 'cp1', hosts)).toMatchObject({ kind: 'waiting' });
    expect(judgeArrival(guest({ host: 'spare1' }), 'cp1', null)).toMatchObject({ kind: 'waiting', why: expect.stringMatching(/cannot verify/) });
    expect(judgeArrival(guest({ host: 'gh0st' }), 'cp1', hosts)).toMatchObject({ kind: 'waiting' });
    expect(judgeArrival(guest({ status: 'migrate_failed' }), 'cp1', hosts)).toMatchObject({ kind: 'failed', noRoom: true });
    expect(judgeArrival(guest({ status: 'migrating' }), 'cp1', hosts)).toMatchObject({ kind: 'waiting' });
    expect(judgeArrival(null, 'cp1', hosts)).toEqual({ kind: 'gone' });
  });

  it('a stopped guest: moved, expected SHUTOFF, stopped again after the migrate started it; arrived only ready when SHUTOFF is expected', async () => {
    const region = new RecordingRegion();
    const b = new CloudpodsBackend(region, PREFIXES);
    const stopped = guestOf(guest({ status: 'ready' }));
    expect(b.recoveryOf(stopped)).toMatchObject({ kind: 'move', lasting: 'SHUTOFF', expect: 'SHUTOFF', restore: 'stop', caveat: expect.stringMatching(/region starts/) });
    expect(b.recoveryOf(guestOf(guest({ status: 'suspend' })))).toMatchObject({ kind: 'leave', lasting: 'SUSPENDED' });
    await b.restore('vm1', 'stop');
    expect(region.calls).toEqual([{ op: 'stop', id: 'vm1' }]);
    await expect(b.restore('vm1', 'pause')).rejects.toMatchObject({ code: 'restore_unsupported' });
    expect(guestOf(guest({ status: 'start_stop' }))).toMatchObject({ taskState: 'start_stop' });
    const hosts = new Set(['cp1', 'spare1']);
    expect(judgeArrival(guest({ host: 'spare1', status: 'ready' }), 'cp1', hosts, 'SHUTOFF')).toEqual({ kind: 'arrived', host: 'spare1' });
    expect(judgeArrival(guest({ host: 'spare1', status: 'running' }), 'cp1', hosts, 'SHUTOFF')).toMatchObject({ kind: 'waiting' });
    expect(judgeArrival(guest({ host: 'spare1', status: 'ready' }), 'cp1', hosts)).toMatchObject({ kind: 'waiting' });
  });

  it('lists a host\'s guests in the recovery\'s words', async () => {
    const b = new CloudpodsBackend(new RecordingRegion(), PREFIXES);
    const [g] = await b.guestsOn('cp1');
    expect(g).toMatchObject({ id: 'vm1', status: 'ACTIVE', vmState: 'running', taskState: null, host: 'cp1', projectId: 'p1',
      addresses: [{ network: 'provider', addr: '198.18.1.5', version: 4, type: 'fixed' }] });
  });
});
