import { afterEach, describe, expect, it } from 'vitest';
import { serversOn, startTestSim, type TestSim } from './sim-client.js';

let t: TestSim | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

async function killAndForceDown(sim: TestSim, host: string): Promise<void> {
  expect((await sim.control('POST', `/hosts/${host}/power-off`)).status).toBe(200);
  expect((await sim.forceDown(host)).status).toBe(200);
}

async function enable(sim: TestSim, host: string): Promise<void> {
  const r = await sim.nova('PUT', `/os-services/${await sim.serviceId(host)}`, { mv: '2.53', body: { status: 'enabled' } });
  expect(r.status).toBe(200);
}

async function activeServerOn(sim: TestSim, host: string): Promise<string> {
  const s = (await serversOn(sim, host)).find((x) => x.status === 'ACTIVE');
  if (!s) throw new Error(`no ACTIVE server on ${host}`);
  return s.id;
}

describe('evacuate, as Nova does it', () => {
  it('refuses while the source service is up (even when the host is dead), then accepts with an empty 200 after forced_down', async () => {
    t = await startTestSim();
    const id = await activeServerOn(t, 'compute1');
    let r = await t.nova('POST', `/servers/${id}/action`, { mv: '2.53', body: { evacuate: {} } });
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ badRequest: { code: 400, message: 'Compute service of compute1 is still in use.' } });

    await t.control('POST', '/hosts/compute1/power-off');
    r = await t.nova('POST', `/servers/${id}/action`, { mv: '2.53', body: { evacuate: {} } });
    expect(r.status).toBe(400); // dead but not yet seen down

    expect((await t.forceDown('compute1')).status).toBe(200);
    r = await t.nova('POST', `/servers/${id}/action`, { mv: '2.53', body: { evacuate: {} } });
    expect(r.status).toBe(200);
    expect(r.text).toBe('');
  });

  it('walks the rebuild task states and lands on another host; the migration is done after the host moved', async () => {
    t = await startTestSim({ evacuateSeconds: 0.6 });
    const id = await activeServerOn(t, 'compute1');
    await killAndForceDown(t, 'compute1');
    const r = await t.nova('POST', `/servers/${id}/action`, { mv: '2.53', body: { evacuate: {} } });
    expect(r.status).toBe(200);
    const seen: string[] = [];
    let last: Record<string, unknown> = {};
    await t.waitFor('evacuation to finish', async () => {
      // read the migration first: once it says done, the host has moved (Nova writes done after the host)
      const mig = (await t!.migrations(`migration_type=evacuation&instance_uuid=${id}`))[0];
      last = await t!.server(id);
      const state = `${String(last.status)}/${String(last['OS-EXT-STS:task_state'])}`;
      if (seen[seen.length - 1] !== state) seen.push(state);
      if (mig?.status === 'done') {
        expect(last['OS-EXT-SRV-ATTR:host']).not.toBe('compute1');
        return true;
      }
      return false;
    });
    expect(seen[0]).toBe('REBUILD/rebuilding');
    expect(seen).toContain('REBUILD/rebuild_block_device_mapping');
    expect(seen).toContain('REBUILD/rebuild_spawning');
    expect(seen[seen.length - 1]).toBe('ACTIVE/null');
    expect(last['OS-EXT-STS:vm_state']).toBe('active');
    const actions = (await t.nova('GET', `/servers/${id}/os-instance-actions`, { mv: '2.58' })).json.instanceActions;
    expect(actions[0].action).toBe('evacuate');
  });

  it('brings an ERROR server back ACTIVE on the target, and uses a named host only after it is enabled', async () => {
    t = await startTestSim();
    const err = (await serversOn(t, 'compute1')).find((s) => s.status === 'ERROR');
    expect(err).toBeDefined();
    await killAndForceDown(t, 'compute1');
    // the spare is disabled: with a host and no force the scheduler still checks it and refuses
    let r = await t.nova('POST', `/servers/${err!.id}/action`, { mv: '2.53', body: { evacuate: { host: 'spare1' } } });
    expect(r.status).toBe(200);
    let mig = await t.waitFor('migration error', async () => {
      const m = (await t!.migrations(`instance_uuid=${err!.id}`))[0];
      return m && m.status !== 'accepted' ? m : undefined;
    });
    expect(mig.status).toBe('error');
    expect((await t.server(err!.id))['OS-EXT-SRV-ATTR:host']).toBe('compute1');

    await enable(t, 'spare1');
    r = await t.nova('POST', `/servers/${err!.id}/action`, { mv: '2.53', body: { evacuate: { host: 'spare1' } } });
    expect(r.status).toBe(200);
    mig = await t.waitFor('migration done', async () => {
      const m = (await t!.migrations(`instance_uuid=${err!.id}`))[0];
      return m?.status === 'done' ? m : undefined;
    });
    expect(mig.dest_compute).toBe('spare1');
    const s = await t.server(err!.id);
    expect(s.status).toBe('ACTIVE');
    expect(s['OS-EXT-STS:vm_state']).toBe('active');
    expect(s['OS-EXT-SRV-ATTR:host']).toBe('spare1');
  });

  it('fails the migration and leaves the server ERROR on the dead host when no host has room', async () => {
    t = await startTestSim({ hosts: 2, spares: 0, instancesPerHost: 3, hostVcpus: 1, cpuAllocationRatio: 1 });
    const id = (await serversOn(t, 'compute1'))[0]!.id;
    await killAndForceDown(t, 'compute1');
    expect((await t.nova('POST', `/servers/${id}/action`, { mv: '2.53', body: { evacuate: {} } })).status).toBe(200);
    const mig = await t.waitFor('migration error', async () => {
      const m = (await t!.migrations(`migration_type=evacuation&instance_uuid=${id}`))[0];
      return m && m.status !== 'accepted' ? m : undefined;
    });
    expect(mig.status).toBe('error');
    const s = await t.server(id);
    expect(s.status).toBe('ERROR');
    expect(s['OS-EXT-STS:task_state']).toBeNull();
    expect(s['OS-EXT-SRV-ATTR:host']).toBe('compute1');
    expect((s.fault as { message: string }).message).toMatch(/No valid host/);
  });

  it('answers Nova’s validation errors: 2.68 force, force without host, same host, unknown host, never-scheduled ERROR', async () => {
    t = await startTestSim();
    const id = await activeServerOn(t, 'compute1');
    await killAndForceDown(t, 'compute1');
    let r = await t.nova('POST', `/servers/${id}/action`, { mv: '2.68', body: { evacuate: { host: 'compute2', force: true } } });
    expect(r.status).toBe(400);
    expect(r.json.badRequest.message).toMatch(/Additional properties are not allowed \('force' was unexpected\)/);
    r = await t.nova('POST', `/servers/${id}/action`, { mv: '2.29', body: { evacuate: { force: true } } });
    expect(r.status).toBe(400);
    expect(r.json.badRequest.message).toBe("Can't force to a non-provided destination");
    r = await t.nova('POST', `/servers/${id}/action`, { mv: '2.53', body: { evacuate: { host: 'compute1' } } });
    expect(r.json).toEqual({ badRequest: { code: 400, message: "The target host can't be the same one." } });
    r = await t.nova('POST', `/servers/${id}/action`, { mv: '2.53', body: { evacuate: { host: 'nowhere' } } });
    expect(r.status).toBe(404);
    expect(r.json.itemNotFound.message).toBe('Compute host nowhere not found.');
    r = await t.nova('POST', `/servers/${id}/action`, { mv: '2.1', body: { evacuate: { host: 'compute2' } } });
    expect(r.status).toBe(400); // onSharedStorage is required before 2.14
    r = await t.nova('POST', `/servers/${id}/action`, { mv: '2.53', body: { evacuate: { onSharedStorage: true } } });
    expect(r.status).toBe(400); // and gone from 2.14

    const orphan = (await t.control('POST', '/servers', { host: null, status: 'ERROR' })).json.server;
    r = await t.nova('POST', `/servers/${orphan.id}/action`, { mv: '2.53', body: { evacuate: {} } });
    expect(r.status).toBe(409);
    expect(r.json.conflictingRequest.message).toMatch(/invalid state for 'evacuate'/);
  });

  it('accepts a second evacuate while the first runs and leaves the server stuck: REBUILD, vm_state error, one done and one failed migration', async () => {
    t = await startTestSim({ evacuateSeconds: 1 });
    const id = await activeServerOn(t, 'compute1');
    await killAndForceDown(t, 'compute1');
    expect((await t.nova('POST', `/servers/${id}/action`, { mv: '2.53', body: { evacuate: {} } })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 100));
    const second = await t.nova('POST', `/servers/${id}/action`, { mv: '2.53', body: { evacuate: {} } });
    expect(second.status).toBe(200);
    const migs = await t.waitFor('both rebuilds to end', async () => {
      const m = await t!.migrations(`migration_type=evacuation&instance_uuid=${id}`);
      return m.length === 2 && m.every((x) => x.status !== 'accepted') ? m : undefined;
    });
    expect(migs.map((m) => m.status).sort()).toEqual(['done', 'failed']);
    await new Promise((r) => setTimeout(r, 200));
    const s = await t.server(id);
    expect(s.status).toBe('REBUILD');
    expect(s['OS-EXT-STS:vm_state']).toBe('error');
  });

  it('refuses forced_down=false while done evacuations remain, until nova-compute restarts and completes them', async () => {
    t = await startTestSim();
    const id = await activeServerOn(t, 'compute1');
    await killAndForceDown(t, 'compute1');
    await t.nova('POST', `/servers/${id}/action`, { mv: '2.53', body: { evacuate: {} } });
    await t.waitFor('done', async () => (await t!.migrations(`instance_uuid=${id}`))[0]?.status === 'done');
    const svc = await t.serviceId('compute1');
    let r = await t.nova('PUT', `/os-services/${svc}`, { mv: '2.53', body: { forced_down: false } });
    expect(r.status).toBe(400);
    expect(r.json.badRequest.message).toMatch(/^Unable to force up host compute1 as `done` evacuation migration records remain associated with the host/);

    await t.control('POST', '/hosts/compute1/power-on');
    await t.waitFor('completed', async () => (await t!.migrations(`instance_uuid=${id}`))[0]?.status === 'completed');
    r = await t.nova('PUT', `/os-services/${svc}`, { mv: '2.53', body: { forced_down: false } });
    expect(r.status).toBe(200);
    expect(r.json.service).toMatchObject({ host: 'compute1', forced_down: false, state: 'up' });
  });

  it('live-migrates for drains: MIGRATING, then ACTIVE on the target with a completed live-migration record', async () => {
    t = await startTestSim();
    const id = await activeServerOn(t, 'compute2');
    const r = await t.nova('POST', `/servers/${id}/action`, { mv: '2.53', body: { 'os-migrateLive': { host: 'compute3', block_migration: 'auto' } } });
    expect(r.status).toBe(202);
    expect((await t.server(id)).status).toBe('MIGRATING');
    const inProgress = await t.nova('GET', `/servers/${id}/migrations`, { mv: '2.80' });
    expect(inProgress.json.migrations).toHaveLength(1);
    expect(inProgress.json.migrations[0]).toMatchObject({ server_uuid: id, source_compute: 'compute2' });
    const m = await t.waitFor('live migration', async () => {
      const x = (await t!.migrations(`migration_type=live-migration&instance_uuid=${id}`))[0];
      return x?.status === 'completed' ? x : undefined;
    });
    expect(m.dest_compute).toBe('compute3');
    const s = await t.server(id);
    expect(s.status).toBe('ACTIVE');
    expect(s['OS-EXT-SRV-ATTR:host']).toBe('compute3');
  });
});
