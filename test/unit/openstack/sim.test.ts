import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { createOpenStack, type OpenStack } from '../../../src/openstack/index.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { runSim, type RunningSim } from '../../../src/sim/index.js';
import { failure } from './cloud.js';

// The clients against the project's cloud simulator, configured from the cmpha.conf it writes:
// what the detector and the pipeline will see when they run on top of these clients.

let sim: RunningSim;
let os: OpenStack;

beforeAll(async () => {
  sim = await runSim({ hosts: 3, instancesPerHost: 3, spares: 1, seed: 7 });
  const config = await loadConfig({ path: sim.configPath, env: {} });
  os = createOpenStack(config.cloud, { logger: silentLogger });
});

afterAll(async () => {
  await sim?.close();
});

async function control(path: string): Promise<void> {
  const res = await fetch(`${sim.controlUrl}${path}`, { method: 'POST' });
  if (!res.ok) throw new Error(`sim control ${path}: ${res.status} ${await res.text()}`);
}

describe('against the cloud simulator', () => {
  it('negotiates a microversion and lists services, hypervisors and servers', async () => {
    const mv = (await os.nova.microversion()).split('.').map(Number);
    expect(mv[0]).toBe(2);
    expect(mv[1]).toBeGreaterThanOrEqual(53);
    const services = await os.nova.listComputeServices();
    expect(services.length).toBeGreaterThanOrEqual(4);
    expect(services.every((s) => s.binary === 'nova-compute' && s.id.length > 0)).toBe(true);
    const hypervisors = await os.nova.listHypervisors();
    expect(hypervisors.map((h) => h.serviceHost).sort()).toEqual(services.map((s) => s.host).sort());
    const host = services.find((s) => s.status === 'enabled')!.host;
    const servers = await os.nova.listServersOnHost(host);
    expect(servers.length).toBeGreaterThan(0);
    for (const s of servers) {
      expect(s.host).toBe(host);
      expect(s.addresses.length).toBeGreaterThan(0);
    }
    const one = await os.nova.getServer(servers[0]!.id);
    expect(one?.id).toBe(servers[0]!.id);
    expect(await os.nova.getServer('00000000-0000-0000-0000-000000000000')).toBeNull();
  });

  it('lists the servers Nova changed since a time it wrote itself, deleted ones included', async () => {
    const all = await os.nova.listServersOnHost('compute3');
    const newest = Math.max(...all.map((s) => s.updatedAt!.getTime()));
    const atNewest = await os.nova.listServersChangedSince(new Date(newest));
    expect(atNewest.length).toBeGreaterThan(0);
    expect(atNewest.every((s) => s.updatedAt!.getTime() >= newest)).toBe(true);
    const res = await fetch(`${sim.controlUrl}/sim/clock`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ advanceSeconds: 5 }) });
    expect(res.status).toBe(200);
    sim.world.deleteServer(all[0]!.id);
    const changed = await os.nova.listServersChangedSince(new Date(newest + 2000));
    expect(changed).toEqual([expect.objectContaining({ id: all[0]!.id, status: 'DELETED', host: 'compute3', addresses: [] })]);
  });

  it('is refused an evacuate while the source is up, and evacuates once it is forced down', async () => {
    const services = await os.nova.listComputeServices();
    const source = services.find((s) => s.host === 'compute1')!;
    const spare = services.find((s) => s.status === 'disabled' && s.host !== 'compute1');
    const [server] = await os.nova.listServersOnHost('compute1');
    expect(server).toBeDefined();
    expect(spare).toBeDefined();

    const refused = await failure(os.nova.evacuate(server!.id, spare!.host));
    expect(refused.code).toBe('nova_bad_request');
    expect(refused.serviceMessage).toContain('still in use');

    await control('/sim/hosts/compute1/power-off');
    const down = await os.nova.updateService(source.id, { forcedDown: true });
    expect(down.forcedDown).toBe(true);
    await os.nova.updateService(source.id, { status: 'disabled', disabledReason: 'cmpha test' });
    await os.nova.updateService(spare!.id, { status: 'enabled' });
    await os.nova.evacuate(server!.id, spare!.host);
    const migrations = await os.nova.listMigrations({ instanceId: server!.id, type: 'evacuation' });
    expect(migrations.length).toBe(1);
    expect(migrations[0]!.sourceCompute).toBe('compute1');
  });

  it('looks up the owner of a server in Keystone', async () => {
    const [server] = await os.nova.listServersOnHost('compute2');
    const user = await os.identity.getUser(server!.userId);
    expect(user?.id).toBe(server!.userId);
  });
});
