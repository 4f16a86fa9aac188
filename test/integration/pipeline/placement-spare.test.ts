import { describe, expect, it } from 'vitest';
import { createOpenStack } from '../../../src/openstack/index.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { isEvacuate, pipelineSuite, type PipelineWorld, waitClosed } from './world.js';

// The spare step asks Placement first (allocation ratios included), then falls back to the hypervisor's figures.

const suite = pipelineSuite();

async function addServer(world: PipelineWorld, host: string, name: string, flavor: string, metadata: Record<string, string> = {}): Promise<void> {
  const r = await fetch(`${world.sim.controlUrl}/sim/servers`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host, name, flavor, metadata }),
  });
  if (r.status !== 201) throw new Error(`adding ${name}: ${r.status} ${await r.text()}`);
}

describe('spare choice with capacity from Placement', () => {
  it('a spare too small by Placement\'s figures takes only what fits; the rest is evacuated without a target', async () => {
    // Every host: 8 vCPU, 16384 MB (512 reserved), no overcommit. Placement: spare1 has 8 vCPU and 15872 MB free,
    // room for one m1.large (4 vCPU, 8192 MB), not two.
    const w = await suite.world({
      hosts: 2, instancesPerHost: 0, spares: 1, hostVcpus: 8, hostMemoryMb: 16384, cpuAllocationRatio: 1,
      evacuation: { priorityMetadataKey: 'ha_priority', concurrency: 1 },
    });
    expect(await w.nova.microversion()).toBe('2.93');
    await addServer(w, 'compute1', 'db', 'm1.large', { ha_priority: '10' });
    await addServer(w, 'compute1', 'web', 'm1.large', { ha_priority: '5' });
    const { placement } = createOpenStack(w.config.cloud, { logger: silentLogger, retryBaseDelayMs: 20 });
    await w.control('compute1', 'power-off');
    await w.waitNovaDown('compute1');
    const r = w.recovery(suite.redis, { placement });
    await r.startWorkers();
    await r.opener.open({ id: 'pl-small-1', host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
    const inc = await waitClosed(r, 'pl-small-1');

    const messages = inc.timeline.map((t) => t.message);
    expect(messages).toContain('capacity from Placement: spare1 free 8 vCPU, 15872 MB');
    expect(messages).toContain('1 server(s) do not fit on the spare(s): evacuating them without a target, the scheduler chooses');
    expect(messages.filter((m) => /assuming it fits/.test(m))).toEqual([]);

    const byName = Object.fromEntries(inc.instances.map((e) => [e.name, e]));
    expect(byName.db).toMatchObject({ state: 'verified', target: 'spare1' });
    // Refused up front, not sent to the spare and retargeted after a failure there: the scheduler put it on
    // compute2, the one host with room left.
    expect(byName.web).toMatchObject({ state: 'verified', target: 'compute2' });
    expect(byName.web!.retargetedFrom).toBeUndefined();
    expect(inc.status).toBe('resolved');

    const posts = (await w.calls()).filter(isEvacuate);
    expect(posts).toHaveLength(2);
    const bodyOf = (id: string) => posts.find((c) => c.path.includes(id))!.body as { evacuate: { host?: string } };
    expect(bodyOf(byName.db!.id).evacuate.host).toBe('spare1');
    expect(bodyOf(byName.web!.id).evacuate).not.toHaveProperty('host');
    expect((await w.nova.getServer(byName.web!.id))!.host).toBe('compute2');
  });

  it('without a Placement client the hypervisor\'s figures judge the spare, and the timeline says so', async () => {
    const w = await suite.world({ hosts: 1, instancesPerHost: 0, spares: 1 });
    await addServer(w, 'compute1', 'solo', 'm1.tiny');
    await w.control('compute1', 'power-off');
    await w.waitNovaDown('compute1');
    const r = w.recovery(suite.redis);
    await r.startWorkers();
    await r.opener.open({ id: 'pl-none-1', host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
    const inc = await waitClosed(r, 'pl-none-1');
    expect(inc.status).toBe('resolved');
    expect(inc.timeline.map((t) => t.message)).toContainEqual(expect.stringMatching(/^capacity from Nova's hypervisor figures \(Placement was not asked\): spare1 free \d+ vCPU, \d+ MB$/));
  });
});
