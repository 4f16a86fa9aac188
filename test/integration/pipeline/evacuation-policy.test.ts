import { describe, expect, it } from 'vitest';
import { parsePolicyRule, type PolicyRule } from '../../../src/evacuator/policy.js';
import { isEvacuate, pipelineSuite, type PipelineWorld, waitClosed } from './world.js';

// The evacuability policy end to end: the simulator serves flavor extra specs, image properties (Glance) and
// aggregate metadata as Nova and Glance do; the recovery runs through BullMQ on a real Redis.

const suite = pipelineSuite();

function rules(...texts: string[]): PolicyRule[] {
  return texts.map((t) => parsePolicyRule(t) as PolicyRule);
}

async function addServer(w: PipelineWorld, spec: Record<string, unknown>): Promise<string> {
  const r = await fetch(`${w.sim.controlUrl}/sim/servers`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });
  if (r.status !== 201) throw new Error(`adding ${String(spec.name)}: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { server: { id: string } }).server.id;
}

describe('evacuability policy', () => {
  it('each source can say never or a priority; servers the policy keeps are left by policy, per server, and the incident resolves', async () => {
    const w = await suite.world({
      hosts: 2, instancesPerHost: 0, spares: 1,
      evacuation: {
        concurrency: 1,
        policy: rules('name:amphora-* -> never', 'flavor:evacuable=false -> never', 'image:evacuable=false -> never',
          'project:no-such-project -> never', 'metadata:tier=db -> priority 100', 'aggregate:ha=gold -> priority 10'),
      },
    });
    w.sim.world.aggregates[0]!.metadata.ha = 'gold';
    await addServer(w, { host: 'compute1', name: 'amphora-4f2a', flavor: 'm1.tiny' });
    await addServer(w, { host: 'compute1', name: 'legacy', flavor: 'm1.tiny', extraSpecs: { evacuable: 'False' } });
    await addServer(w, { host: 'compute1', name: 'scratch', flavor: 'm1.tiny', imageProperties: { evacuable: 'false', os_distro: 'debian' } });
    await addServer(w, { host: 'compute1', name: 'db', flavor: 'm1.tiny', metadata: { tier: 'db' } });
    await addServer(w, { host: 'compute1', name: 'app', flavor: 'm1.tiny', imageProperties: { evacuable: 'true' } });
    await w.control('compute1', 'power-off');
    await w.waitNovaDown('compute1');
    const r = w.recovery(suite.redis);
    await r.startWorkers();
    await r.opener.open({ id: 'pol-1', host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
    const inc = await waitClosed(r, 'pol-1');

    const byName = Object.fromEntries(inc.instances.map((e) => [e.name, e]));
    expect(byName['amphora-4f2a']).toMatchObject({ state: 'excluded', skipReason: 'left by policy: name:amphora-* -> never' });
    expect(byName.legacy).toMatchObject({ state: 'excluded', skipReason: 'left by policy: flavor:evacuable=false -> never' });
    expect(byName.scratch).toMatchObject({ state: 'excluded', skipReason: 'left by policy: image:evacuable=false -> never' });
    expect(byName.db).toMatchObject({ state: 'verified', priority: 100, priorityFrom: 'metadata:tier=db -> priority 100' });
    expect(byName.app).toMatchObject({ state: 'verified', priority: 10, priorityFrom: 'aggregate:ha=gold -> priority 10', policyRule: 'policy_default = evacuate' });
    expect(inc.status).toBe('resolved');
    const messages = inc.timeline.map((t) => t.message);
    expect(messages).toContain('5 server(s) on compute1: 2 to evacuate, 0 left in place, 3 left by policy');
    expect(messages).toContainEqual(expect.stringMatching(/^incident resolved: 2 verified, 0 failed, 0 left in place, 3 left by policy, 0 deleted/));
    expect(w.notifier.events.find((e) => e.type === 'incident-resolved')?.summary).toMatch(/^compute1: 2 of 2 instance\(s\) recovered/);

    // Nothing was asked for the servers the policy keeps; the higher priority went first.
    const posts = (await w.calls()).filter(isEvacuate);
    expect(posts.map((c) => inc.instances.find((e) => c.path.includes(e.id))?.name)).toEqual(['db', 'app']);
  });

  it('tiers: the second tier is not asked for before the first is verified', async () => {
    const w = await suite.world({
      hosts: 2, instancesPerHost: 0, spares: 1,
      evacuation: { concurrency: 4, policy: rules('metadata:tier=db -> priority 100'), tiers: [100] },
    });
    await addServer(w, { host: 'compute1', name: 'db-1', flavor: 'm1.tiny', metadata: { tier: 'db' } });
    await addServer(w, { host: 'compute1', name: 'db-2', flavor: 'm1.tiny', metadata: { tier: 'db' } });
    for (const n of ['app-1', 'app-2', 'app-3']) await addServer(w, { host: 'compute1', name: n, flavor: 'm1.tiny' });
    await w.control('compute1', 'power-off');
    await w.waitNovaDown('compute1');
    const r = w.recovery(suite.redis);
    await r.startWorkers();
    await r.opener.open({ id: 'pol-tier-1', host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
    const inc = await waitClosed(r, 'pol-tier-1');
    expect(inc.status).toBe('resolved');
    const tierOf = Object.fromEntries(inc.instances.map((e) => [e.name, e.tier]));
    expect(tierOf).toEqual({ 'db-1': 1, 'db-2': 1, 'app-1': 2, 'app-2': 2, 'app-3': 2 });

    const lastDbVerified = Math.max(...inc.instances.filter((e) => e.tier === 1).map((e) => e.verifiedAt!));
    const firstAppAsked = Math.min(...inc.instances.filter((e) => e.tier === 2).map((e) => e.requestedAt!));
    expect(firstAppAsked).toBeGreaterThanOrEqual(lastDbVerified);
    const messages = inc.timeline.map((t) => t.message);
    expect(messages).toContain('tier 2 starts: every server of earlier tiers is settled');
    expect(messages).toContainEqual(expect.stringMatching(/^tier 2 waits until tier 1 is settled \(2 server\(s\): db-1, db-2\)$/));
    // Held jobs gave their slots back: each server was asked for once.
    expect(inc.instances.every((e) => e.attempts === 1)).toBe(true);
  });

  it('a first tier that fails still opens the gate, with a critical note; the incident is partial', async () => {
    // Every host has 2 vCPU and no overcommit: the 4-vCPU database fits nowhere, the small servers do.
    const w = await suite.world({
      hosts: 2, instancesPerHost: 0, spares: 1, hostVcpus: 2, cpuAllocationRatio: 1,
      evacuation: { concurrency: 2, policy: rules('metadata:tier=db -> priority 100'), tiers: [100], capacityWaitMs: 0 },
    });
    await addServer(w, { host: 'compute1', name: 'db-big', flavor: 'm1.large', metadata: { tier: 'db' } });
    await addServer(w, { host: 'compute1', name: 'app-1', flavor: 'm1.tiny' });
    await w.control('compute1', 'power-off');
    await w.waitNovaDown('compute1');
    const r = w.recovery(suite.redis);
    await r.startWorkers();
    await r.opener.open({ id: 'pol-tier-fail', host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
    const inc = await waitClosed(r, 'pol-tier-fail');
    const byName = Object.fromEntries(inc.instances.map((e) => [e.name, e]));
    expect(byName['db-big']!.state).toBe('failed');
    expect(byName['app-1']).toMatchObject({ state: 'verified', tier: 2 });
    expect(inc.status).toBe('partial');
    const critical = inc.timeline.filter((t) => t.level === 'critical').map((t) => t.message);
    expect(critical).toContain('tier 2 starts although 1 server(s) of earlier tiers did not recover (db-big)');
  });
});
