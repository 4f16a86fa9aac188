import { afterEach, describe, expect, it } from 'vitest';
import { startTestSim, type Res, type TestSim } from './sim-client.js';

let t: TestSim | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

async function placement(sim: TestSim, path: string, opts: { version?: string | null; token?: string | null; method?: string } = {}): Promise<Res> {
  const headers: Record<string, string> = {};
  if (opts.token !== null) headers['X-Auth-Token'] = opts.token ?? sim.token;
  if (opts.version !== null) headers['OpenStack-API-Version'] = `placement ${opts.version ?? '1.14'}`;
  const r = await fetch(`${sim.base}/placement${path}`, { method: opts.method ?? 'GET', headers });
  const text = await r.text();
  return { status: r.status, headers: r.headers, text, json: text ? JSON.parse(text) : undefined };
}

interface Hv { id: string; hypervisor_hostname: string; service: { host: string } }

async function hypervisors(sim: TestSim): Promise<Hv[]> {
  return (await sim.nova('GET', '/os-hypervisors/detail', { mv: '2.93' })).json.hypervisors as Hv[];
}

/** vCPU and RAM that the servers Nova lists on a host take, by their embedded flavors. */
async function flavorSum(sim: TestSim, host: string): Promise<{ VCPU: number; MEMORY_MB: number }> {
  const r = await sim.nova('GET', `/servers/detail?all_tenants=1&host=${host}`, { mv: '2.93' });
  const servers = r.json.servers as Array<{ flavor: { vcpus: number; ram: number } }>;
  return servers.reduce((a, s) => ({ VCPU: a.VCPU + s.flavor.vcpus, MEMORY_MB: a.MEMORY_MB + s.flavor.ram }), { VCPU: 0, MEMORY_MB: 0 });
}

async function providerOf(sim: TestSim, name: string): Promise<string> {
  const r = await placement(sim, `/resource_providers?name=${name}`);
  expect(r.status).toBe(200);
  expect(r.json.resource_providers).toHaveLength(1);
  return r.json.resource_providers[0].uuid as string;
}

describe('Placement in the simulator', () => {
  it('is in the catalog at /placement and answers its version document without a token', async () => {
    t = await startTestSim({ hosts: 1, spares: 1 });
    const login = await fetch(`${t.base}/identity/v3/auth/tokens`, { headers: { 'X-Auth-Token': t.token, 'X-Subject-Token': t.token } });
    const catalog = ((await login.json()) as { token: { catalog: Array<{ type: string; endpoints: Array<{ url: string }> }> } }).token.catalog;
    expect(catalog.find((c) => c.type === 'placement')!.endpoints.map((e) => e.url)).toEqual(Array(3).fill(`${t.base}/placement`));
    const doc = await placement(t, '/', { token: null, version: null });
    expect(doc.status).toBe(200);
    expect(doc.json).toEqual({ versions: [{ id: 'v1.0', max_version: '1.39', min_version: '1.0', status: 'CURRENT', links: [{ rel: 'self', href: '' }] }] });
  });

  it('one provider per compute node: named by hypervisor_hostname, with the hypervisor id as UUID', async () => {
    t = await startTestSim({ hosts: 2, spares: 1 });
    const hvs = await hypervisors(t);
    expect(hvs).toHaveLength(3);
    for (const hv of hvs) {
      const r = await placement(t, `/resource_providers?name=${hv.hypervisor_hostname}`);
      expect(r.status).toBe(200);
      expect(r.headers.get('openstack-api-version')).toBe('placement 1.14');
      expect(r.json.resource_providers).toHaveLength(1);
      expect(r.json.resource_providers[0]).toMatchObject({
        uuid: hv.id, name: hv.hypervisor_hostname, parent_provider_uuid: null, root_provider_uuid: hv.id,
      });
    }
    expect((await placement(t, '/resource_providers?name=nowhere')).json).toEqual({ resource_providers: [] });
    // Before 1.14 the nested-provider fields do not exist.
    const old = await placement(t, `/resource_providers?name=${hvs[0]!.hypervisor_hostname}`, { version: '1.10' });
    expect(old.headers.get('openstack-api-version')).toBe('placement 1.10');
    expect(old.json.resource_providers[0]).not.toHaveProperty('root_provider_uuid');
  });

  it('inventories come from the host size and the allocation ratios; usages are the flavors of the servers there', async () => {
    t = await startTestSim({ hosts: 2, instancesPerHost: 4, spares: 1, hostVcpus: 12, hostMemoryMb: 49152, cpuAllocationRatio: 2, ramAllocationRatio: 1.5 });
    const uuid = await providerOf(t, 'compute1');
    const inv = await placement(t, `/resource_providers/${uuid}/inventories`);
    expect(inv.status).toBe(200);
    expect(inv.json.inventories.VCPU).toEqual({ total: 12, reserved: 0, min_unit: 1, max_unit: 12, step_size: 1, allocation_ratio: 2 });
    expect(inv.json.inventories.MEMORY_MB).toEqual({ total: 49152, reserved: 512, min_unit: 1, max_unit: 49152, step_size: 1, allocation_ratio: 1.5 });
    expect(inv.json.inventories.DISK_GB).toMatchObject({ reserved: 0, allocation_ratio: 1 });
    const usages = await placement(t, `/resource_providers/${uuid}/usages`);
    expect(usages.status).toBe(200);
    const sum = await flavorSum(t, 'compute1');
    expect(sum.VCPU).toBeGreaterThan(0);
    expect(usages.json.usages).toMatchObject(sum);
    expect(typeof usages.json.resource_provider_generation).toBe('number');
    const spare = await placement(t, `/resource_providers/${await providerOf(t, 'spare1')}/usages`);
    expect(spare.json.usages).toEqual({ VCPU: 0, MEMORY_MB: 0, DISK_GB: 0 });
  });

  it('usages follow an evacuation: the spare carries the server afterwards, and the generation moves', async () => {
    t = await startTestSim({ hosts: 1, instancesPerHost: 3, spares: 1 });
    const spareUuid = await providerOf(t, 'spare1');
    const before = await placement(t, `/resource_providers/${spareUuid}/usages`);
    const server = (await t.nova('GET', '/servers/detail?all_tenants=1&host=compute1', { mv: '2.93' })).json.servers
      .find((s: { status: string }) => s.status === 'ACTIVE') as { id: string; flavor: { vcpus: number; ram: number } };
    await t.control('POST', '/hosts/compute1/power-off');
    expect((await t.forceDown('compute1')).status).toBe(200);
    expect((await t.nova('PUT', `/os-services/${await t.serviceId('spare1')}`, { mv: '2.53', body: { status: 'enabled' } })).status).toBe(200);
    expect((await t.nova('POST', `/servers/${server.id}/action`, { mv: '2.93', body: { evacuate: { host: 'spare1' } } })).status).toBe(200);
    await t.waitFor('the server to land on spare1', async () => (await t!.server(server.id))['OS-EXT-SRV-ATTR:host'] === 'spare1');
    const after = await placement(t, `/resource_providers/${spareUuid}/usages`);
    expect(after.json.usages.VCPU).toBe(before.json.usages.VCPU + server.flavor.vcpus);
    expect(after.json.usages.MEMORY_MB).toBe(before.json.usages.MEMORY_MB + server.flavor.ram);
    expect(after.json.resource_provider_generation).toBeGreaterThan(before.json.resource_provider_generation);
  });

  it('errors in Placement\'s shape: unknown provider 404, bad or unsupported version 400/406, bad filter 400, no token 401', async () => {
    t = await startTestSim({ hosts: 1, spares: 0 });
    const missing = await placement(t, '/resource_providers/3f1c2b55-0000-4000-8000-000000000000/usages');
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({
      errors: [{
        status: 404, title: 'Not Found', code: 'placement.undefined_code', request_id: expect.stringMatching(/^req-/),
        detail: 'The resource could not be found.\n\n No resource provider with uuid 3f1c2b55-0000-4000-8000-000000000000 found  ',
      }],
    });
    const bad = await placement(t, '/resource_providers', { version: '1.x' });
    expect(bad.status).toBe(400);
    expect(bad.json.errors[0].detail).toMatch(/invalid version string: 1\.x/);
    const tooNew = await placement(t, '/resource_providers', { version: '1.99' });
    expect(tooNew.status).toBe(406);
    expect(tooNew.json.errors[0]).toMatchObject({ status: 406, title: 'Not Acceptable', detail: 'Unacceptable version header: 1.99' });
    const filter = await placement(t, '/resource_providers?host=compute1');
    expect(filter.status).toBe(400);
    expect(filter.json.errors[0].detail).toMatch(/Additional properties are not allowed \('host' was unexpected\)/);
    const anonymous = await placement(t, '/resource_providers', { token: null });
    expect(anonymous.status).toBe(401);
    const write = await placement(t, '/resource_providers', { method: 'POST' });
    expect(write.status).toBe(405);
  });

  it('Placement reads are not recorded in /sim/calls (only mutating calls are)', async () => {
    t = await startTestSim({ hosts: 1, spares: 1 });
    await t.control('DELETE', '/calls');
    const uuid = await providerOf(t, 'compute1');
    await placement(t, `/resource_providers/${uuid}/inventories`);
    await placement(t, `/resource_providers/${uuid}/usages`);
    expect((await t.control('GET', '/calls')).json).toEqual([]);
  });
});
