import { describe, expect, it } from 'vitest';
import { planFleet } from '../../../src/evacuator/host-plan.js';
import { parsePolicyRule, type PolicyRule } from '../../../src/evacuator/policy.js';
import { PLAN_COLUMNS } from '../../../src/cli/commands/check.js';
import { renderList } from '../../../src/cli/output.js';
import { computeOf } from '../../helpers/compute.js';
import { pipelineSuite, type PipelineWorld } from './world.js';

// `cmpha check --plan` against the simulator: per host, what its failure would do to each server and why, before
// any failure (the same inventory and spare plan as the recovery, nothing claimed or changed).

const suite = pipelineSuite();

async function post(w: PipelineWorld, path: string, body: unknown): Promise<void> {
  const r = await fetch(`${w.sim.controlUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (r.status !== 201) throw new Error(`${path}: ${r.status} ${await r.text()}`);
}

describe('cmpha check --plan', () => {
  it('names per server the rule that decided, its priority and tier, and the spare; a group member the spare cannot take goes to the scheduler', async () => {
    const w = await suite.world({
      hosts: 2, instancesPerHost: 0, spares: 1,
      evacuation: { policy: ['name:amphora-* -> never', 'metadata:tier=db -> priority 100'].map((t) => parsePolicyRule(t) as PolicyRule), tiers: [100] },
    });
    await post(w, '/sim/server-groups', { name: 'pair', policy: 'anti-affinity' });
    await post(w, '/sim/servers', { host: 'spare1', name: 'pair-b', group: 'pair', flavor: 'm1.tiny' });
    await post(w, '/sim/servers', { host: 'compute1', name: 'pair-a', group: 'pair', flavor: 'm1.tiny' });
    await post(w, '/sim/servers', { host: 'compute1', name: 'amphora-1', flavor: 'm1.tiny' });
    await post(w, '/sim/servers', { host: 'compute1', name: 'db', flavor: 'm1.tiny', metadata: { tier: 'db' } });
    await post(w, '/sim/servers', { host: 'compute2', name: 'web', flavor: 'm1.tiny' });
    const calls = (await w.calls()).length;
    const rows = await planFleet(computeOf(w.nova, { config: w.config }), w.config.evacuation);
    const by = Object.fromEntries(rows.map((r) => [r.name, r]));
    expect(by['amphora-1']).toMatchObject({ host: 'compute1', plan: 'excluded', why: 'name:amphora-* -> never', target: '' });
    expect(by.db).toMatchObject({ plan: 'move', priority: 100, tier: 1, target: 'spare1', priorityFrom: 'metadata:tier=db -> priority 100' });
    expect(by['pair-a']).toMatchObject({ plan: 'move', tier: 2, target: 'scheduler', why: 'policy_default = evacuate' });
    expect(by.web).toMatchObject({ host: 'compute2', plan: 'move', target: 'spare1' });
    // Reads only.
    expect((await w.calls()).slice(calls).filter((c) => c.service !== 'keystone' && c.method !== 'GET')).toEqual([]);
    const table = renderList(rows, PLAN_COLUMNS, { format: 'table', columns: [] } as never);
    expect(table).toMatch(/compute1\s+amphora-1\s+ACTIVE\s+excluded\s+2\s+0\s+-\s+name:amphora-\* -> never/);
  });
});
