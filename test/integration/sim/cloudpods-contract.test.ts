import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { createOpenStack, type OpenStack } from '../../../src/openstack/index.js';
import { CLOUDPODS_MIGRATE_OUTCOME_UNKNOWN } from '../../../src/openstack/errors.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { runSim, type RunningSim } from '../../../src/sim/index.js';
import { until } from '../../helpers/cmpha-process.js';

// The simulated Cloudpods region against cmpha's own client (src/openstack/cloudpods.ts), one test per call cmpha
// makes, each naming the yunionio/cloudpods source it follows. The simulator and the client must agree with the
// source; where they would not, this fails.

let sim: RunningSim | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function start(over: Parameters<typeof runSim>[0] = {}): Promise<{ sim: RunningSim; os: OpenStack; raw: (method: string, path: string, body?: unknown) => Promise<{ status: number; json: any }> }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  sim = await runSim({ cloud: 'cloudpods', hosts: 2, spares: 1, instancesPerHost: 2, reportIntervalSeconds: 1, serviceDownTimeSeconds: 4, evacuateSeconds: 0.4, bootSeconds: 0.1, ...over });
  const config = await loadConfig({ path: sim.configPath, env: {} });
  const os = createOpenStack(config.cloud, { logger: silentLogger });
  const s = sim;
  const raw = async (method: string, path: string, body?: unknown) => {
    const token = await os.session.token();
    const r = await fetch(`${s.controlUrl}/cloudpods${path}`, {
      method, headers: { 'X-Auth-Token': token, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await r.text();
    return { status: r.status, json: text ? JSON.parse(text) : undefined };
  };
  return { sim: s, os, raw };
}

async function control(s: RunningSim, path: string, body?: unknown): Promise<void> {
  const r = await fetch(`${s.controlUrl}/sim${path}`, { method: 'POST', ...(body !== undefined ? { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) } : {}) });
  expect(r.status, path).toBe(200);
}

const hostNamed = async (os: OpenStack, name: string) => (await os.region.listHosts({ name }))[0]!;

describe('the simulated Cloudpods region, as its source has it', () => {
  it('auth: POST /v3/auth/tokens, then the catalog\'s compute_v2 endpoint (pkg/keystone/tokens/handlers.go; compute_v2 as in pkg/compute/misc/handler.go)', async () => {
    const { os } = await start();
    expect(await os.session.endpoint('compute_v2')).toMatch(/\/cloudpods$/);
    await expect(os.session.endpoint('compute')).rejects.toMatchObject({ code: 'endpoint_not_found' });
  });

  it('GET /hosts: host_status, enabled, access_ip, metadata; updated_at moves with every ping (pkg/compute/models/hosts.go SHost, PerformPing; FetchCustomizeColumns)', async () => {
    const { sim: s, os } = await start();
    const hosts = await os.region.listHosts();
    expect(hosts.map((h) => [h.name, h.hostStatus, h.enabled, h.autoMigrateOnHostDown])).toEqual([
      ['compute1', 'online', true, false], ['compute2', 'online', true, false], ['spare1', 'online', false, false],
    ]);
    expect(hosts[2]!.metadata).toEqual({ cmpha_reason: 'down_prepare' });
    expect(hosts[0]!.accessIp).toBe(s.world.host('compute1')!.mgmtIp);
    const before = hosts[0]!.updatedAt!.getTime();
    await control(s, '/clock', { advanceSeconds: 2 });
    expect((await hostNamed(os, 'compute1')).updatedAt!.getTime()).toBeGreaterThan(before);
  });

  it('POST /hosts/<id>/offline: offline at once and idempotent; the next ping of a live agent brings it online (PerformOffline, PerformPing → PerformOnline)', async () => {
    const { sim: s, os } = await start();
    const h = await hostNamed(os, 'compute1');
    const statuses = async () => (await os.region.listGuests({ hostId: 'compute1' })).map((g) => g.status);
    const before = await statuses();
    await os.region.hostAction(h.id, 'offline', { reason: 'cmpha incident compute1-1: host fenced' });
    await os.region.hostAction(h.id, 'offline', { reason: 'again' });
    expect((await hostNamed(os, 'compute1')).hostStatus).toBe('offline');
    // PerformOffline marks no guest unknown (only the ping detection does).
    expect(await statuses()).toEqual(before);
    await control(s, '/clock', { advanceSeconds: 1.5 });
    expect((await hostNamed(os, 'compute1')).hostStatus).toBe('online');
  });

  it('a host whose agent stops pinging goes offline after HostOfflineMaxSeconds and its guests read unknown (PingDetectionTask, MarkGuestUnknown)', async () => {
    const { sim: s, os } = await start();
    const statuses = async () => (await os.region.listGuests({ hostId: 'compute1' })).map((g) => g.status);
    const before = await statuses();
    await control(s, '/hosts/compute1/host-agent/stop');
    await control(s, '/clock', { advanceSeconds: 3 });
    expect((await hostNamed(os, 'compute1')).hostStatus).toBe('online');
    await control(s, '/clock', { advanceSeconds: 2.5 });
    expect((await hostNamed(os, 'compute1')).hostStatus).toBe('offline');
    expect(await statuses()).toEqual(['unknown', 'unknown']);
    await control(s, '/hosts/compute1/host-agent/start');
    await control(s, '/clock', { advanceSeconds: 1.5 });
    expect((await hostNamed(os, 'compute1')).hostStatus).toBe('online');
    expect(await statuses()).toEqual(before);
  });

  it('POST /hosts/<id>/disable, enable and metadata ("none" deletes a key) (hosts.go PerformDisable/PerformEnable; db/standalone_anon.go PerformMetadata; db/metadata.go rawSetValues)', async () => {
    const { os } = await start();
    const h = await hostNamed(os, 'compute2');
    await os.region.hostAction(h.id, 'metadata', { cmpha_reason: 'cmpha incident compute2-1 2026-12-07T20:00:00.000Z' });
    await os.region.hostAction(h.id, 'disable', {});
    expect(await hostNamed(os, 'compute2')).toMatchObject({ enabled: false, metadata: { cmpha_reason: 'cmpha incident compute2-1 2026-12-07T20:00:00.000Z' } });
    await os.region.hostAction(h.id, 'metadata', { cmpha_reason: 'none' });
    await os.region.hostAction(h.id, 'enable', {});
    expect(await hostNamed(os, 'compute2')).toMatchObject({ enabled: true, metadata: {} });
  });

  it('an action body wrapped under the singular keyword, or bare, is the same (pkg/appsrv/dispatcher/dispatcher.go performActionHandler); answers wrap under it', async () => {
    const { os, raw } = await start();
    const h = await hostNamed(os, 'compute2');
    expect((await raw('POST', `/hosts/${h.id}/metadata`, { host: { a: '1' } })).status).toBe(200);
    expect((await raw('POST', `/hosts/${h.id}/metadata`, { b: '2' })).status).toBe(200);
    expect((await hostNamed(os, 'compute2')).metadata).toEqual({ a: '1', b: '2' });
    const one = await raw('GET', `/hosts/${h.id}`);
    expect(one.json.host.name).toBe('compute2');
  });

  it('GET /servers?host=…&scope=system lists every project\'s guests on the host; without scope only the token\'s project (HostResourceInput, pkg/apis/compute/host.go; db_dispatcher.go ListItems)', async () => {
    const { sim: s, os, raw } = await start();
    const all = await os.region.listGuests({ hostId: 'compute1' });
    expect(all.map((g) => g.id).sort()).toEqual(s.world.serverList.filter((x) => x.host === 'compute1').map((x) => x.id).sort());
    expect(all[0]!.nics[0]!.ip).toMatch(/^198\.18\./);
    const own = await raw('GET', '/servers?host=compute1');
    expect(own.json.servers.length).toBeLessThan(all.length + 1);
    expect(own.json.servers.every((g: { tenant_id: string }) => g.tenant_id === s.world.projects.find((p) => p.name === 'admin')!.id)).toBe(true);
    expect(await os.region.getGuest('no-such-guest')).toBeNull();
    const paged = await raw('GET', '/servers?scope=system&limit=1&offset=1');
    expect(paged.json).toMatchObject({ total: s.world.serverList.length, limit: 1, offset: 1 });
  });

  it('POST /servers/<id>/migrate rescue_mode: refused while the host is online or a disk is local; accepted once offline, start_migrate at once, running on prefer_host_id (kvm.go CheckMigrate; guest_actions.go PerformMigrate, StartMigrateTask; tasks/guest/guest_live_migrate_task.go)', async () => {
    // A migration of 30 s on the world's clock, moved on by hand: each stage is read, none is raced.
    const { sim: s, os } = await start({ evacuateSeconds: 30, instancesPerHost: 4 });
    const [g1, g2] = (await os.region.listGuests({ hostId: 'compute1' })).filter((g) => g.status === 'running');
    await expect(os.region.migrate(g1!.id, { preferHostId: null, rescueMode: true })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/Host status online, can't do rescue mode migration/) });
    await control(s, '/hosts/compute1/power-off');
    const src = await hostNamed(os, 'compute1');
    await os.region.hostAction(src.id, 'offline', { reason: 'test' });
    s.http.cloudpods.localDisks.add(g2!.id);
    await expect(os.region.migrate(g2!.id, { preferHostId: null, rescueMode: true })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/shared storages/) });
    await expect(os.region.migrate(g1!.id, { preferHostId: 'nosuchhost', rescueMode: true })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/Host nosuchhost not found/) });
    const spare = await hostNamed(os, 'spare1');
    await os.region.hostAction(spare.id, 'enable', {});
    await os.region.migrate(g1!.id, { preferHostId: spare.id, rescueMode: true });
    expect((await os.region.getGuest(g1!.id))!.status).toBe('start_migrate');
    await control(s, '/clock', { advanceSeconds: 10 });
    // It was running when asked: OnStartSchedule leaves start_migrate (no `migrating`).
    expect((await os.region.getGuest(g1!.id))).toMatchObject({ status: 'start_migrate', host: 'compute1' });
    await control(s, '/clock', { advanceSeconds: 15 });
    expect((await os.region.getGuest(g1!.id))).toMatchObject({ status: 'starting', host: 'spare1', hostId: spare.id });
    await control(s, '/clock', { advanceSeconds: 6 });
    expect((await os.region.getGuest(g1!.id))).toMatchObject({ status: 'running', host: 'spare1' });
  });

  it('a second migrate while one runs is accepted, as the region does (no status check in rescue mode): the simulator fails the guest', async () => {
    const { sim: s, os } = await start();
    const [g] = await os.region.listGuests({ hostId: 'compute2' });
    await control(s, '/hosts/compute2/power-off');
    await os.region.hostAction((await hostNamed(os, 'compute2')).id, 'offline', {});
    await os.region.migrate(g!.id, { preferHostId: null, rescueMode: true });
    await os.region.migrate(g!.id, { preferHostId: null, rescueMode: true });
    expect(s.http.cloudpods.migrationsOf(g!.id)).toBe(2);
    await until(async () => (await os.region.getGuest(g!.id))!.status === 'migrate_failed', 10_000, 'the raced guest to fail');
    expect((await os.region.getGuest(g!.id))!.host).toBe('compute2');
  });

  it('a migrate answered by a dropped connection after the region acted is outcome-unknown, never resent by the client (http.ts)', async () => {
    const { sim: s, os } = await start({ faults: { dropAfterRate: 1, services: ['cloudpods'] } });
    s.http.faults.dropAfterRate = 0;
    const [g] = await os.region.listGuests({ hostId: 'compute2' });
    await control(s, '/hosts/compute2/power-off');
    await os.region.hostAction((await hostNamed(os, 'compute2')).id, 'offline', {});
    s.http.faults.dropAfterRate = 1;
    await expect(os.region.migrate(g!.id, { preferHostId: null, rescueMode: true })).rejects.toMatchObject({ code: CLOUDPODS_MIGRATE_OUTCOME_UNKNOWN });
    s.http.faults.dropAfterRate = 0;
    expect(s.http.cloudpods.migrationsOf(g!.id)).toBe(1);
    expect((await os.region.getGuest(g!.id))!.status).toMatch(/start_migrate|migrating|starting|running/);
  });

  it('POST /hosts/<id>/restart-host-agent reaches the agent itself: it restarts a live agent, and a dead one cannot be asked (hosts.go PerformRestartHostAgent → pkg/hostman/hosthandler/handler.go hostRestart)', async () => {
    const { sim: s, os } = await start();
    const h = await hostNamed(os, 'compute1');
    await os.region.hostAction(h.id, 'restart-host-agent', {});
    expect(s.world.novaComputeRunning(s.world.host('compute1')!)).toBe(false);
    await control(s, '/clock', { advanceSeconds: 3.5 });
    expect(s.world.novaComputeRunning(s.world.host('compute1')!)).toBe(true);
    await control(s, '/hosts/compute1/host-agent/stop');
    await expect(os.region.hostAction(h.id, 'restart-host-agent', {})).rejects.toMatchObject({ status: 502 });
  });

  it('POST /hosts/<id>/auto-migrate-on-host-down sets __auto_migrate_on_host_down, listed as auto_migrate_on_host_down (PerformAutoMigrateOnHostDown; FetchCustomizeColumns)', async () => {
    const { os, raw } = await start();
    const h = await hostNamed(os, 'compute1');
    expect((await raw('POST', `/hosts/${h.id}/auto-migrate-on-host-down`, { host: { auto_migrate_on_host_shutdown: 'enable' } })).json)
      .toMatchObject({ code: 400, class: 'BadRequestError', details: 'must enable auto_migrate_on_host_down at same time' });
    expect((await raw('POST', `/hosts/${h.id}/auto-migrate-on-host-down`, { host: { auto_migrate_on_host_down: 'enable' } })).status).toBe(200);
    expect(await hostNamed(os, 'compute1')).toMatchObject({ autoMigrateOnHostDown: true, metadata: { __auto_migrate_on_host_down: 'enable' } });
  });

  it('POST /servers/<id>/restart with is_force restarts a guest on a live host (guest_actions.go PerformRestart)', async () => {
    const { sim: s, os } = await start();
    const [g] = await os.region.listGuests({ hostId: 'compute1' });
    s.world.setGuestSilent(s.world.servers.get(g!.id)!, true);
    await os.region.restart(g!.id);
    expect(s.world.servers.get(g!.id)!.guestSilent).toBe(false);
  });
});

describe('the simulated Cloudpods region: stopped guests', () => {
  it('a stopped (ready) guest migrated in rescue mode is started on the target: ready → start_migrate → migrating → starting → running (guest_live_migrate_task.go OnStartSchedule, OnNormalMigrateComplete → StartGueststartTask; tasks/guest/guest_start_task.go RequestStart; hostman guestman.go GuestStart)', async () => {
    const { sim: s, os } = await start({ evacuateSeconds: 30, instancesPerHost: 0 });
    const r = await fetch(`${s.controlUrl}/sim/servers`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'stopped-1', host: 'compute1', status: 'SHUTOFF' }) });
    const id = ((await r.json()) as { server: { id: string } }).server.id;
    expect((await os.region.getGuest(id))!.status).toBe('ready');
    await control(s, '/hosts/compute1/power-off');
    const src = await hostNamed(os, 'compute1');
    // PerformOffline leaves the guests' status as it is (only the region's own ping detection marks them unknown).
    await os.region.hostAction(src.id, 'offline', {});
    expect((await os.region.getGuest(id))!.status).toBe('ready');
    const spare = await hostNamed(os, 'spare1');
    await os.region.hostAction(spare.id, 'enable', {});
    await os.region.migrate(id, { preferHostId: spare.id, rescueMode: true });
    expect((await os.region.getGuest(id))!.status).toBe('start_migrate');
    await control(s, '/clock', { advanceSeconds: 10 });
    // It was not running when asked: OnStartSchedule sets migrating.
    expect(await os.region.getGuest(id)).toMatchObject({ status: 'migrating', host: 'compute1' });
    await control(s, '/clock', { advanceSeconds: 15 });
    expect(await os.region.getGuest(id)).toMatchObject({ status: 'starting', host: 'spare1' });
    await control(s, '/clock', { advanceSeconds: 6 });
    expect(await os.region.getGuest(id)).toMatchObject({ status: 'running', host: 'spare1' });
  });

  it('POST /servers/<id>/stop: refused unless running; start_stop at once, then ready (guest_actions.go PerformStop, StartGuestStopTask; guestdrivers/base.go CanStop; tasks/guest/guest_stop_task.go)', async () => {
    const { sim: s, os } = await start();
    const [g] = (await os.region.listGuests({ hostId: 'compute1' })).filter((x) => x.status === 'running');
    await os.region.stop(g!.id);
    expect((await os.region.getGuest(g!.id))!.status).toBe('start_stop');
    await control(s, '/clock', { advanceSeconds: 1 });
    expect((await os.region.getGuest(g!.id))!.status).toBe('ready');
    await expect(os.region.stop(g!.id)).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/Cannot stop server in status ready/) });
  });
});
