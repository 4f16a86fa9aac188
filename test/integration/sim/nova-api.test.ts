import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSim, type TestSim } from './sim-client.js';

let t: TestSim;
beforeAll(async () => {
  t = await startTestSim({ hosts: 6, instancesPerHost: 7, spares: 1 });
});
afterAll(async () => {
  await t?.close();
});

describe('Nova API shapes', () => {
  it('publishes its version range and echoes the negotiated microversion', async () => {
    const root = (await (await fetch(`${t.base}/compute/`)).json()) as { versions: { version: string; min_version: string }[] };
    expect(root.versions[0]).toMatchObject({ version: '2.93', min_version: '2.1' });
    const v21 = (await (await fetch(`${t.base}/compute/v2.1/`)).json()) as { version: { id: string } };
    expect(v21.version.id).toBe('v2.1');

    let r = await t.nova('GET', '/os-services', { mv: '2.60' });
    expect(r.headers.get('openstack-api-version')).toBe('compute 2.60');
    expect(r.headers.get('vary')).toMatch(/OpenStack-API-Version/);
    r = await t.nova('GET', '/os-services');
    expect(r.headers.get('openstack-api-version')).toBe('compute 2.1');
    r = await fetch(`${t.base}/compute/v2.1/os-services`, { headers: { 'X-Auth-Token': t.token, 'X-OpenStack-Nova-API-Version': '2.11' } })
      .then(async (x) => ({ status: x.status, headers: x.headers }) as never);
    expect((r as unknown as { headers: Headers }).headers.get('x-openstack-nova-api-version')).toBe('2.11');

    r = await t.nova('GET', '/os-services', { mv: '2.999' });
    expect(r.status).toBe(406);
    expect(r.json).toEqual({ computeFault: { code: 406, message: 'Version 2.999 is not supported by the API. Minimum is 2.1 and maximum is 2.93.' } });
    r = await t.nova('GET', '/os-services', { mv: 'two' });
    expect(r.status).toBe(400);
  });

  it('lists services with integer ids before 2.53 and UUIDs plus forced_down from 2.53', async () => {
    let r = await t.nova('GET', '/os-services?binary=nova-compute');
    const old = r.json.services;
    expect(old).toHaveLength(7);
    expect(typeof old[0].id).toBe('number');
    expect(old[0]).not.toHaveProperty('forced_down');
    r = await t.nova('GET', '/os-services?binary=nova-compute&host=spare1', { mv: '2.53' });
    const [spare] = r.json.services;
    expect(spare.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(spare).toMatchObject({ host: 'spare1', binary: 'nova-compute', status: 'disabled', disabled_reason: 'down_prepare', forced_down: false, state: 'up', zone: 'nova' });
  });

  it('validates PUT /os-services bodies and moves updated_at on every update', async () => {
    const id = (await t.nova('GET', '/os-services?binary=nova-compute&host=compute6', { mv: '2.53' })).json.services[0].id;
    const before = (await t.nova('GET', '/os-services?host=compute6', { mv: '2.53' })).json.services[0].updated_at;
    let r = await t.nova('PUT', `/os-services/${id}`, { mv: '2.53', body: { bogus: 1 } });
    expect(r.status).toBe(400);
    r = await t.nova('PUT', `/os-services/${id}`, { mv: '2.53', body: { status: 'sideways' } });
    expect(r.status).toBe(400);
    r = await t.nova('PUT', `/os-services/${id}`, { mv: '2.53', body: { status: 'enabled', disabled_reason: 'x' } });
    expect(r.status).toBe(400);
    r = await t.nova('PUT', `/os-services/${id}`, { mv: '2.53', body: {} });
    expect(r.status).toBe(400);
    r = await t.nova('PUT', '/os-services/not-a-uuid', { mv: '2.53', body: { status: 'disabled' } });
    expect(r.status).toBe(400);
    await new Promise((res) => setTimeout(res, 5));
    r = await t.nova('PUT', `/os-services/${id}`, { mv: '2.53', body: { status: 'disabled', disabled_reason: 'maintenance' } });
    expect(r.status).toBe(200);
    expect(r.json.service).toMatchObject({ status: 'disabled', disabled_reason: 'maintenance', state: 'up' });
    expect(r.json.service.updated_at > before).toBe(true);
    r = await t.nova('PUT', `/os-services/${id}`, { mv: '2.53', body: { status: 'enabled' } });
    expect(r.json.service).toMatchObject({ status: 'enabled', disabled_reason: null });
  });

  it('shows hypervisors with usage before 2.88 and without it from 2.88', async () => {
    let r = await t.nova('GET', '/os-hypervisors/detail', { mv: '2.53' });
    const h = r.json.hypervisors.find((x: { hypervisor_hostname: string }) => x.hypervisor_hostname === 'compute1');
    expect(h).toMatchObject({ host_ip: '198.18.0.11', state: 'up', status: 'enabled', service: { host: 'compute1' } });
    expect(h.vcpus).toBe(32);
    expect(h.vcpus_used).toBeGreaterThan(0);
    expect(h.memory_mb_used).toBeGreaterThan(512);
    expect(h.id).toMatch(/^[0-9a-f-]{36}$/);
    r = await t.nova('GET', '/os-hypervisors/detail', { mv: '2.88' });
    expect(r.json.hypervisors[0]).not.toHaveProperty('vcpus_used');
    expect(r.json.hypervisors[0]).toHaveProperty('host_ip');
  });

  it('pages servers/detail through servers_links and filters by host', async () => {
    const seen = new Set<string>();
    let path: string | null = '/servers/detail?all_tenants=1&limit=10';
    let pages = 0;
    while (path) {
      const r = await t.nova('GET', path, { mv: '2.53' });
      expect(r.status).toBe(200);
      for (const s of r.json.servers) seen.add(s.id);
      pages++;
      const next: string | undefined = r.json.servers_links?.find((l: { rel: string }) => l.rel === 'next')?.href;
      path = next ? next.slice(`${t.base}/compute/v2.1`.length) : null;
    }
    expect(seen.size).toBe(42);
    expect(pages).toBe(5);
    const byHost = await t.nova('GET', '/servers/detail?all_tenants=1&host=compute2', { mv: '2.53' });
    expect(byHost.json.servers).toHaveLength(7);
    expect(byHost.json.servers.every((s: Record<string, unknown>) => s['OS-EXT-SRV-ATTR:host'] === 'compute2')).toBe(true);
    const bad = await t.nova('GET', '/servers/detail?all_tenants=1&marker=nope');
    expect(bad.status).toBe(400);
  });

  it('shows a server with the fields cmpha reads, flavor per microversion, and 404 for an unknown id', async () => {
    const [first] = (await t.nova('GET', '/servers/detail?all_tenants=1&host=compute1&limit=1')).json.servers;
    let s = (await t.nova('GET', `/servers/${first.id}`, { mv: '2.47' })).json.server;
    expect(s.flavor).toMatchObject({ vcpus: expect.any(Number), ram: expect.any(Number), disk: expect.any(Number), original_name: expect.stringMatching(/^m1\./) });
    expect(s.addresses.provider[0]).toMatchObject({ version: 4, 'OS-EXT-IPS:type': 'fixed' });
    expect(s.addresses.provider[0].addr).toMatch(/^198\.1[89]\./);
    expect(s.addresses['tenant-net'][0].addr).toMatch(/^10\./);
    expect(s['OS-EXT-AZ:availability_zone']).toBe('nova');
    expect(s).toHaveProperty('OS-EXT-SRV-ATTR:hypervisor_hostname', 'compute1');
    expect(s).toHaveProperty('OS-EXT-STS:vm_state');
    expect(s).toHaveProperty('user_id');
    expect(s).toHaveProperty('tenant_id');
    s = (await t.nova('GET', `/servers/${first.id}`, { mv: '2.46' })).json.server;
    expect(Object.keys(s.flavor).sort()).toEqual(['id', 'links']);
    const r = await t.nova('GET', '/servers/00000000-0000-4000-8000-000000000000');
    expect(r.status).toBe(404);
    expect(r.json).toEqual({ itemNotFound: { code: 404, message: 'Instance 00000000-0000-4000-8000-000000000000 could not be found.' } });
  });

  it('lists aggregates and adds a host', async () => {
    let r = await t.nova('GET', '/os-aggregates', { mv: '2.53' });
    const agg = r.json.aggregates[0];
    expect(agg.hosts).not.toContain('spare1');
    r = await t.nova('POST', `/os-aggregates/${agg.id}/action`, { mv: '2.53', body: { add_host: { host: 'spare1' } } });
    expect(r.status).toBe(200);
    expect(r.json.aggregate.hosts).toContain('spare1');
    r = await t.nova('POST', `/os-aggregates/${agg.id}/action`, { mv: '2.53', body: { add_host: { host: 'spare1' } } });
    expect(r.status).toBe(409);
    r = await t.nova('POST', `/os-aggregates/${agg.id}/action`, { mv: '2.53', body: { add_host: { host: 'ghost' } } });
    expect(r.status).toBe(404);
  });

  it('serves availability zones and Neutron ports by device', async () => {
    const az = await t.nova('GET', '/os-availability-zone/detail');
    expect(az.json.availabilityZoneInfo.map((z: { zoneName: string }) => z.zoneName)).toContain('nova');
    const [s] = (await t.nova('GET', '/servers/detail?all_tenants=1&limit=1')).json.servers;
    const ports = await fetch(`${t.base}/network/v2.0/ports?device_id=${s.id}`, { headers: { 'X-Auth-Token': t.token } });
    expect(ports.status).toBe(200);
    const body = (await ports.json()) as { ports: { device_id: string; fixed_ips: { ip_address: string }[] }[] };
    expect(body.ports).toHaveLength(2);
    expect(body.ports[0]!.device_id).toBe(s.id);
  });

  it('injects faults: 500s, and dropped connections', async () => {
    let r = await t.control('POST', '/faults', { errorRate: 1 });
    expect(r.json.errorRate).toBe(1);
    r = await t.nova('GET', '/os-services');
    expect(r.status).toBe(500);
    expect(r.json.computeFault.code).toBe(500);
    // keystone is not faulted unless asked
    expect((await fetch(`${t.base}/identity/v3`)).status).toBe(200);
    await t.control('POST', '/faults', { errorRate: 0, dropRate: 1 });
    await expect(t.nova('GET', '/os-services')).rejects.toThrow();
    await t.control('POST', '/faults', { errorRate: 0.5, dropRate: 0 });
    const statuses = await Promise.all(Array.from({ length: 40 }, () => t.nova('GET', '/os-hypervisors').then((x) => x.status)));
    expect(statuses.filter((s) => s === 500).length).toBeGreaterThan(5);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(5);
    await t.control('POST', '/faults', { errorRate: 0, latencyMs: 150 });
    const started = Date.now();
    expect((await t.nova('GET', '/os-services')).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    await t.control('POST', '/faults', { latencyMs: 0 });
    expect((await t.control('POST', '/faults', { errorRate: 2 })).status).toBe(400);
  });

  it('garbles chosen answers on request (corrupt rules): fields set or removed, a number of times, after a number of good answers', async () => {
    const list = (await t.nova('GET', '/servers/detail?all_tenants=1&host=compute1', { mv: '2.93' })).json.servers as Array<Record<string, unknown>>;
    const id = list[0]!.id as string;
    const r = await t.control('POST', '/faults', { corrupt: [
      { path: `/servers/${id}$`, set: { 'server.OS-EXT-SRV-ATTR:host': 12345 }, skip: 1, times: 1 },
      { path: '/servers/detail', unset: ['servers.*.id'], times: 1 },
    ] });
    expect(r.status).toBe(200);
    expect(((await t.nova('GET', `/servers/${id}`, { mv: '2.93' })).json.server)['OS-EXT-SRV-ATTR:host']).toBe('compute1');
    expect(((await t.nova('GET', `/servers/${id}`, { mv: '2.93' })).json.server)['OS-EXT-SRV-ATTR:host']).toBe(12345);
    expect(((await t.nova('GET', `/servers/${id}`, { mv: '2.93' })).json.server)['OS-EXT-SRV-ATTR:host']).toBe('compute1');
    const stripped = (await t.nova('GET', '/servers/detail?all_tenants=1&host=compute1', { mv: '2.93' })).json.servers as Array<Record<string, unknown>>;
    expect(stripped.length).toBe(list.length);
    expect(stripped.every((s) => !('id' in s) && typeof s.name === 'string')).toBe(true);
    expect((await t.nova('GET', '/servers/detail?all_tenants=1&host=compute1', { mv: '2.93' })).json.servers[0].id).toBe(id);
    await t.control('POST', '/faults', { corrupt: [{ path: '/os-services', raw: '<html>502</html>', times: 1 }] });
    const raw = await fetch(`${t.base}/compute/v2.1/os-services`, { headers: { 'X-Auth-Token': t.token } });
    expect([raw.status, await raw.text()]).toEqual([200, '<html>502</html>']);
    const faults = (await t.control('GET', '/faults')).json;
    expect(faults.injected.corrupted).toBe(3);
    expect((await t.control('POST', '/faults', { corrupt: [{ path: '(' }] })).status).toBe(400);
    expect((await t.control('POST', '/faults', { corrupt: [{ path: 'x', bogus: 1 }] })).status).toBe(400);
    expect((await t.control('POST', '/faults', { corrupt: [] })).json.corrupt).toEqual([]);
  });
});
