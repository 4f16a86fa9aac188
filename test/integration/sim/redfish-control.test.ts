import { afterEach, describe, expect, it } from 'vitest';
import { startTestSim, type TestSim } from './sim-client.js';

let t: TestSim | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

async function bmc(sim: TestSim, host: string): Promise<string> {
  const c = (await sim.control('GET', '/credentials')).json.bmcs[host];
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

async function reset(sim: TestSim, host: string, type: string, auth?: string): Promise<Response> {
  return fetch(`${sim.base}/redfish/v1/Systems/${host}/Actions/ComputerSystem.Reset`, {
    method: 'POST', headers: { Authorization: auth ?? (await bmc(sim, host)), 'Content-Type': 'application/json' },
    body: JSON.stringify({ ResetType: type }),
  });
}

async function powerState(sim: TestSim, host: string): Promise<string> {
  const r = await fetch(`${sim.base}/redfish/v1/Systems/${host}`, { headers: { Authorization: await bmc(sim, host) } });
  return ((await r.json()) as { PowerState: string }).PowerState;
}

describe('Redfish BMCs', () => {
  it('serves the service root openly and systems only with that host’s credentials', async () => {
    t = await startTestSim();
    const root = await fetch(`${t.base}/redfish/v1/`);
    expect(root.status).toBe(200);
    expect(((await root.json()) as { Systems: unknown }).Systems).toEqual({ '@odata.id': '/redfish/v1/Systems' });
    expect((await fetch(`${t.base}/redfish/v1/Systems/compute1`)).status).toBe(401);
    const wrong = `Basic ${Buffer.from('root:nope').toString('base64')}`;
    expect((await fetch(`${t.base}/redfish/v1/Systems/compute1`, { headers: { Authorization: wrong } })).status).toBe(401);
    expect((await fetch(`${t.base}/redfish/v1/Systems/compute1`, { headers: { Authorization: await bmc(t, 'compute2') } })).status).toBe(404);
    const sys = await fetch(`${t.base}/redfish/v1/Systems/compute1`, { headers: { Authorization: await bmc(t, 'compute1') } });
    const body = (await sys.json()) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(body.PowerState).toBe('On');
    expect(body.Actions['#ComputerSystem.Reset'].target).toBe('/redfish/v1/Systems/compute1/Actions/ComputerSystem.Reset');
    expect(body.Actions['#ComputerSystem.Reset']['ResetType@Redfish.AllowableValues']).toContain('ForceOff');
    const coll = await fetch(`${t.base}/redfish/v1/Systems`, { headers: { Authorization: await bmc(t, 'compute1') } });
    expect(((await coll.json()) as { Members: unknown[] }).Members).toEqual([{ '@odata.id': '/redfish/v1/Systems/compute1' }]);
  });

  it('ForceOff ends a hang, is recorded in /sim/calls, and the host goes silent; On boots it again', async () => {
    t = await startTestSim();
    const mgmt = '198.18.0.11';
    await t.control('POST', '/hosts/compute1/hang');
    let st = (await t.control('GET', '/state?host=compute1&servers=0')).json.hosts[0];
    expect(st).toMatchObject({ power: 'on', hung: true });
    expect(await powerState(t, 'compute1')).toBe('On'); // a hung host still reads On at the BMC
    expect((await t.control('POST', '/probe', { addresses: [mgmt] })).json[mgmt]).toBe(false);
    expect((await reset(t, 'compute1', 'GracefulShutdown')).status).toBe(204);
    await new Promise((r) => setTimeout(r, 50));
    expect(await powerState(t, 'compute1')).toBe('On'); // a hung OS ignores ACPI

    await t.control('DELETE', '/calls');
    expect((await reset(t, 'compute1', 'ForceOff')).status).toBe(204);
    expect(await powerState(t, 'compute1')).toBe('Off');
    st = (await t.control('GET', '/state?host=compute1&servers=0')).json.hosts[0];
    expect(st).toMatchObject({ power: 'off', hung: false, novaCompute: 'stopped' });
    const calls = (await t.control('GET', '/calls')).json;
    expect(calls).toEqual([expect.objectContaining({
      method: 'POST', path: '/redfish/v1/Systems/compute1/Actions/ComputerSystem.Reset', body: { ResetType: 'ForceOff' }, service: 'redfish', status: 204,
    })]);

    expect((await reset(t, 'compute1', 'On')).status).toBe(204);
    expect(await powerState(t, 'compute1')).toBe('On');
    expect((await t.control('POST', '/probe', { addresses: [mgmt] })).json[mgmt]).toBe(true);
    expect((await reset(t, 'compute1', 'Explode')).status).toBe(400);
  });

  it('supports sessions: X-Auth-Token + Location, and DELETE ends the session', async () => {
    t = await startTestSim();
    const c = (await t.control('GET', '/credentials')).json.bmcs.compute2;
    const r = await fetch(`${t.base}/redfish/v1/SessionService/Sessions`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ UserName: c.username, Password: c.password }),
    });
    expect(r.status).toBe(201);
    const token = r.headers.get('x-auth-token')!;
    const location = r.headers.get('location')!;
    expect(location).toMatch(/^\/redfish\/v1\/SessionService\/Sessions\//);
    expect((await fetch(`${t.base}/redfish/v1/Systems/compute2`, { headers: { 'X-Auth-Token': token } })).status).toBe(200);
    expect((await fetch(`${t.base}${location}`, { method: 'DELETE', headers: { 'X-Auth-Token': token } })).status).toBe(204);
    expect((await fetch(`${t.base}/redfish/v1/Systems/compute2`, { headers: { 'X-Auth-Token': token } })).status).toBe(401);
    const calls = (await t.control('GET', '/calls?service=redfish')).json;
    expect(calls[0].body.Password).toBe('***');
  });

  it('breaks BMCs on request: error → 500, stuck-on → stays On after ForceOff, unreachable → connection dropped', async () => {
    t = await startTestSim();
    await t.control('POST', '/hosts/compute1/bmc', { mode: 'error' });
    expect((await reset(t, 'compute1', 'ForceOff')).status).toBe(500);
    await t.control('POST', '/hosts/compute1/bmc', { mode: 'stuck-on' });
    expect((await reset(t, 'compute1', 'ForceOff')).status).toBe(204);
    expect(await powerState(t, 'compute1')).toBe('On');
    await t.control('POST', '/hosts/compute1/bmc', { mode: 'unreachable' });
    const auth = await bmc(t, 'compute1');
    await expect(fetch(`${t.base}/redfish/v1/Systems/compute1`, { headers: { Authorization: auth } })).rejects.toThrow();
    await t.control('POST', '/hosts/compute1/bmc', { mode: 'ok' });
    expect(await powerState(t, 'compute1')).toBe('On');
    expect((await t.control('POST', '/hosts/compute1/bmc', { mode: 'weird' })).status).toBe(400);
  });
});

describe('world control API', () => {
  it('reports the default world: 4 computes with 5 servers, one spare, an ERROR and a SHUTOFF server', async () => {
    t = await startTestSim();
    const st = (await t.control('GET', '/state')).json;
    expect(st.hosts.map((h: { name: string }) => h.name)).toEqual(['compute1', 'compute2', 'compute3', 'compute4', 'spare1']);
    expect(st.hosts[4]).toMatchObject({ spare: true, servers: 0, service: { status: 'disabled', disabled_reason: 'down_prepare', state: 'up' } });
    expect(st.hosts[0]).toMatchObject({ power: 'on', hung: false, novaCompute: 'running', mgmtLink: 'up', mgmtIp: '198.18.0.11' });
    expect(st.servers).toHaveLength(20);
    const statuses = st.servers.map((s: { status: string }) => s.status);
    expect(statuses).toContain('ERROR');
    expect(statuses).toContain('SHUTOFF');
    expect(statuses.filter((s: string) => s === 'ACTIVE').length).toBeGreaterThan(10);
  });

  it('computes service state from heartbeats: down only after service_down_time, and never while forced up', async () => {
    t = await startTestSim({ reportIntervalSeconds: 10, serviceDownTimeSeconds: 60 });
    await t.control('POST', '/hosts/compute2/nova-compute/stop');
    const svc = async () => (await t!.nova('GET', '/os-services?binary=nova-compute&host=compute2', { mv: '2.53' })).json.services[0];
    expect((await svc()).state).toBe('up');
    await t.control('POST', '/clock', { advanceSeconds: 45 });
    expect((await svc()).state).toBe('up');
    await t.control('POST', '/clock', { advanceSeconds: 30 });
    const down = await svc();
    expect(down.state).toBe('down');
    // an admin update makes updated_at fresh, but the service stays down: updated_at is no proof of life
    await t.nova('PUT', `/os-services/${down.id}`, { mv: '2.53', body: { status: 'disabled', disabled_reason: 'test' } });
    const after = await svc();
    expect(after.state).toBe('down');
    expect(after.updated_at > down.updated_at).toBe(true);
    await t.control('POST', '/hosts/compute2/nova-compute/start');
    expect((await svc()).state).toBe('up');
  });

  it('blocks a disable for the RPC timeout when the compute is dead but still seen up', async () => {
    // A long RPC timeout keeps "waited for it" and "did not" far apart on a loaded machine.
    t = await startTestSim({ rpcTimeoutSeconds: 2 });
    await t.control('POST', '/hosts/compute3/power-off');
    const id = await t.serviceId('compute3');
    let started = Date.now();
    let r = await t.nova('PUT', `/os-services/${id}`, { mv: '2.53', body: { status: 'disabled', disabled_reason: 'x' } });
    expect(r.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1950);
    await t.nova('PUT', `/os-services/${id}`, { mv: '2.53', body: { forced_down: true } });
    started = Date.now();
    r = await t.nova('PUT', `/os-services/${id}`, { mv: '2.53', body: { status: 'enabled' } });
    expect(Date.now() - started).toBeLessThan(1950);
  });

  it('from 2.88, lists hypervisors in detail only after the RPC timeout, with a 500, while a dead compute is still seen up', async () => {
    t = await startTestSim({ rpcTimeoutSeconds: 2 });
    await t.control('POST', '/hosts/compute3/power-off');
    let started = Date.now();
    const at288 = await t.nova('GET', '/os-hypervisors/detail', { mv: '2.88' });
    expect(at288.status).toBe(500);
    expect(at288.json.computeFault.message).toMatch(/^Unexpected API Error/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1950);
    // 2.87 asks no compute anything, and still carries the usage figures.
    started = Date.now();
    const at287 = await t.nova('GET', '/os-hypervisors/detail', { mv: '2.87' });
    expect(at287.status).toBe(200);
    expect(at287.json.hypervisors[0]).toHaveProperty('vcpus_used');
    expect(Date.now() - started).toBeLessThan(1950);
    // Once the dead compute is forced down, Nova no longer asks it.
    await t.nova('PUT', `/os-services/${await t.serviceId('compute3')}`, { mv: '2.53', body: { forced_down: true } });
    expect((await t.nova('GET', '/os-hypervisors/detail', { mv: '2.88' })).status).toBe(200);
  });

  it('probes: mgmt answers iff on, not hung and link up; instance IPs iff ACTIVE on a live host; tenant IPs never', async () => {
    t = await startTestSim();
    const st = (await t.control('GET', '/state?host=compute1')).json;
    const active = st.servers.find((s: { status: string }) => s.status === 'ACTIVE');
    const off = st.servers.find((s: { status: string }) => s.status !== 'ACTIVE');
    const detail = (await t.nova('GET', `/servers/${active.id}`)).json.server;
    const tenantIp = detail.addresses['tenant-net'][0].addr;
    const probe = async () => (await t!.control('POST', '/probe', { addresses: ['198.18.0.11', active.ip, off.ip, tenantIp, '198.19.9.9'] })).json;
    expect(await probe()).toEqual({ '198.18.0.11': true, [active.ip]: true, [off.ip]: false, [tenantIp]: false, '198.19.9.9': false });
    await t.control('POST', '/hosts/compute1/mgmt-link/down');
    expect(await probe()).toMatchObject({ '198.18.0.11': false, [active.ip]: true });
    await t.control('POST', '/hosts/compute1/mgmt-link/up');
    await t.control('POST', '/hosts/compute1/power-off');
    expect(await probe()).toMatchObject({ '198.18.0.11': false, [active.ip]: false });
    expect((await t.control('POST', '/hosts/nohost/power-off')).status).toBe(404);
  });

  it('deletes servers (Nova DELETE and DELETE /sim/servers/{id}) without disturbing pagination or reusing addresses', async () => {
    t = await startTestSim();
    const page1 = (await t.nova('GET', '/servers/detail?all_tenants=1&limit=5')).json;
    const marker = page1.servers[4].id;
    const victim = page1.servers[2];
    expect((await t.nova('DELETE', `/servers/${victim.id}`)).status).toBe(204);
    expect((await t.nova('GET', `/servers/${victim.id}`)).status).toBe(404);
    const other = page1.servers[3]; // listed on page 1, so not after the marker
    expect((await t.control('DELETE', `/servers/${page1.servers[0].id}`)).status).toBe(204);
    expect((await t.control('DELETE', '/servers/nope')).status).toBe(404);
    const page2 = (await t.nova('GET', `/servers/detail?all_tenants=1&limit=100&marker=${marker}`)).json.servers;
    expect(page2).toHaveLength(15);
    expect(page2.map((s: { id: string }) => s.id)).not.toContain(other.id);
    const all = (await t.control('GET', '/state')).json.servers;
    expect(all).toHaveLength(18);
    const added = (await t.control('POST', '/servers', { host: 'compute2' })).json.server;
    expect(all.map((s: { ip: string }) => s.ip)).not.toContain(added.ip);
    expect((await t.control('POST', '/probe', { addresses: [victim.addresses.provider[0].addr] })).json[victim.addresses.provider[0].addr]).toBe(false);
  });

  it('records every mutating Nova call with its body', async () => {
    t = await startTestSim();
    await t.control('DELETE', '/calls');
    await t.nova('GET', '/os-services');
    await t.forceDown('compute4');
    const calls = (await t.control('GET', '/calls')).json;
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ method: 'PUT', service: 'nova', body: { forced_down: true }, status: 200 });
    expect(calls[0].path).toMatch(/^\/compute\/v2\.1\/os-services\/[0-9a-f-]{36}$/);
    expect(typeof calls[0].time).toBe('string');
  });
});
