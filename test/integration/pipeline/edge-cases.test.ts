import { describe, expect, it } from 'vitest';
import type { World } from '../../../src/sim/index.js';
import { newRedis } from '../../unit/pipeline/harness.js';
import { isEvacuate, pipelineSuite, type PipelineWorld, waitClosed, waitFor } from './world.js';

const suite = pipelineSuite();

async function addServers(world: PipelineWorld, host: string, specs: Array<{ name: string; flavor?: string; status?: string; metadata?: Record<string, string> }>): Promise<void> {
  for (const s of specs) {
    const r = await fetch(`${world.sim.controlUrl}/sim/servers`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host, ...s }),
    });
    if (r.status !== 201) throw new Error(`adding ${s.name}: ${r.status} ${await r.text()}`);
  }
}

/** The simulator has no DELETE /servers; a user deleting the server is the server vanishing from the world. */
function deleteInSim(world: World, id: string): void {
  const s = world.servers.get(id)!;
  world.servers.delete(id);
  world.serverList.splice(world.serverList.indexOf(s), 1);
  if (s.host) world.host(s.host)!.servers.delete(id);
}

describe('recovery edge cases on the simulated cloud', () => {
  it('a server deleted mid-incident is recorded as deleted and the incident still resolves', async () => {
    const w = await suite.world({ hosts: 2, instancesPerHost: 0, spares: 1, evacuateSeconds: 1, evacuation: { concurrency: 1 } });
    await addServers(w, 'compute1', ['a', 'b', 'c', 'd'].map((name) => ({ name, flavor: 'm1.tiny' })));
    const servers = await w.serversOn('compute1');
    await w.control('compute1', 'power-off');
    await w.waitNovaDown('compute1');
    const r = w.recovery(suite.redis);
    await r.startWorkers();
    await r.opener.open({ id: 'del-1', host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
    await waitFor('the first evacuation to start', async () => (await r.incidents.listInstances('del-1')).some((e) => e.state !== 'pending'));
    const victim = (await r.incidents.listInstances('del-1')).filter((e) => e.state === 'pending').at(-1)!;
    deleteInSim(w.sim.world, victim.id);
    const inc = await waitClosed(r, 'del-1');
    expect(inc.status).toBe('resolved');
    expect(inc.instances.find((e) => e.id === victim.id)).toMatchObject({ state: 'deleted' });
    expect(inc.instances.filter((e) => e.state === 'verified')).toHaveLength(servers.length - 1);
    expect((await w.calls()).filter((c) => isEvacuate(c) && c.path.includes(victim.id))).toEqual([]);
  });

  it('a spare too small: what fits moves there, the rest is reported, nothing is lost', async () => {
    const w = await suite.world({
      hosts: 1, instancesPerHost: 0, spares: 1, hostVcpus: 8, hostMemoryMb: 16384, cpuAllocationRatio: 1,
      evacuation: { priorityMetadataKey: 'ha_priority', concurrency: 1, capacityWaitMs: 0 },
    });
    await addServers(w, 'compute1', [
      { name: 'db', flavor: 'm1.large', metadata: { ha_priority: '10' } },
      { name: 'web', flavor: 'm1.large', metadata: { ha_priority: '5' } },
      { name: 'batch', flavor: 'm1.large' },
    ]);
    const servers = await w.serversOn('compute1');
    await w.control('compute1', 'power-off');
    await w.waitNovaDown('compute1');
    const r = w.recovery(suite.redis);
    await r.startWorkers();
    await r.opener.open({ id: 'small-1', host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
    const inc = await waitClosed(r, 'small-1');
    expect(inc.status).toBe('partial');
    const byName = Object.fromEntries(inc.instances.map((e) => [e.name, e]));
    // The spare's free room is known (Placement, or the hypervisor's figures), so the plan gives it to the highest
    // priority server; the others go without a target and the scheduler finds no room anywhere.
    expect(byName.db).toMatchObject({ state: 'verified', target: 'spare1' });
    for (const name of ['web', 'batch']) {
      expect(byName[name]).toMatchObject({ state: 'failed', target: null, error: expect.stringMatching(/evacuation migration error/) });
    }
    expect(inc.timeline.map((t) => t.message)).toContain('2 server(s) do not fit on the spare(s): evacuating them without a target, the scheduler chooses');
    // Nothing lost: every server still exists, each either verified on the spare or reported.
    expect(inc.instances).toHaveLength(servers.length);
    for (const s of servers) expect(await w.nova.getServer(s.id)).not.toBeNull();
    const notice = w.notifier.events.at(-1)!;
    expect(notice).toMatchObject({ type: 'incident-partial', severity: 'critical' });
    expect(notice.instances!.filter((i) => i.state === 'failed').map((i) => i.name).sort()).toEqual(['batch', 'web']);
  });

  it('two workers, the same incident opened twice: one incident, one evacuation per server', async () => {
    const w = await suite.world({ hosts: 3, instancesPerHost: 5, spares: 1 });
    const servers = (await w.serversOn('compute1')).filter((s) => ['ACTIVE', 'ERROR'].includes(s.status));
    await w.control('compute1', 'power-off');
    await w.waitNovaDown('compute1');
    const other = newRedis(suite.redisUrl);
    try {
      const a = w.recovery(suite.redis);
      const b = w.recovery(other);
      await Promise.all([a.startWorkers(), b.startWorkers()]);
      const req = { id: 'twice-1', host: 'compute1', failureStartedAt: Date.now(), evidence: {} };
      const results = await Promise.all([a.opener.open(req), b.opener.open(req), b.opener.open({ ...req, id: 'twice-2' })]);
      expect(results.map((x) => x.created).filter(Boolean)).toHaveLength(1);
      const inc = await waitClosed(a, 'twice-1');
      expect(inc.status).toBe('resolved');
      expect(await a.incidents.getRecord('twice-2')).toBeNull();
      const evacuations = (await w.calls()).filter(isEvacuate);
      expect(evacuations).toHaveLength(servers.length);
      for (const s of servers) expect(evacuations.filter((c) => c.path.includes(s.id))).toHaveLength(1);
      expect(w.notifier.events.filter((e) => e.type === 'incident-resolved')).toHaveLength(1);
    } finally {
      await w.close();
      suite.w = undefined;
      other.disconnect();
    }
  });
});
