import { describe, expect, it } from 'vitest';
import type { ComputeBackend } from '../../../src/compute/types.js';
import { computeOf } from '../../helpers/compute.js';
import { isEvacuate, pipelineSuite, type PipelineWorld, waitClosed } from './world.js';

// Server groups: the plan keeps each group's policy, a target the scheduler refuses is retried once without a
// target, and no host is ever forced. The simulator's scheduler checks a named target with the group filters
// (Nova since 2.29: evacuate with a host, without force, goes through the scheduler).

const suite = pipelineSuite();

async function post(w: PipelineWorld, path: string, body: unknown): Promise<unknown> {
  const r = await fetch(`${w.sim.controlUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (r.status !== 201) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  return r.json();
}
const addServer = async (w: PipelineWorld, spec: Record<string, unknown>) => ((await post(w, '/sim/servers', { flavor: 'm1.tiny', ...spec })) as { server: { id: string } }).server.id;
const addGroup = (w: PipelineWorld, spec: Record<string, unknown>) => post(w, '/sim/server-groups', spec);

async function fail(w: PipelineWorld, id: string, compute?: ComputeBackend) {
  await w.control('compute1', 'power-off');
  await w.waitNovaDown('compute1');
  const r = w.recovery(suite.redis, compute ? { compute } : {});
  await r.startWorkers();
  await r.opener.open({ id, host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
  return waitClosed(r, id);
}

async function evacuateBodies(w: PipelineWorld, serverId: string) {
  return (await w.calls()).filter(isEvacuate).filter((c) => c.path.includes(serverId)).map((c) => (c.body as { evacuate: Record<string, unknown> }).evacuate);
}

describe('server groups', () => {
  it('anti-affinity with the other member on the only spare: the member is not sent there; the scheduler places it elsewhere', async () => {
    const w = await suite.world({ hosts: 2, instancesPerHost: 0, spares: 1 });
    await addGroup(w, { name: 'ha-pair', policy: 'anti-affinity' });
    await addServer(w, { host: 'spare1', name: 'ha-b', group: 'ha-pair' });
    const a = await addServer(w, { host: 'compute1', name: 'ha-a', group: 'ha-pair' });
    await addServer(w, { host: 'compute1', name: 'plain' });
    const inc = await fail(w, 'sg-anti-1');

    expect(inc.status).toBe('resolved');
    const byName = Object.fromEntries(inc.instances.map((e) => [e.name, e]));
    expect(byName.plain).toMatchObject({ state: 'verified', target: 'spare1' });
    expect(byName['ha-a']).toMatchObject({ state: 'verified', target: 'compute2' });
    expect(byName['ha-a']!.retargetedFrom).toBeUndefined();
    expect(await evacuateBodies(w, a)).toEqual([{}]);
    expect(inc.timeline.map((t) => t.message)).toContain('server group ha-pair (anti-affinity): 1 member(s) to move, others on spare1 (1)');
    // Why it went without a target, on its own line: its group, not room.
    expect(inc.timeline.find((t) => t.serverId === a && t.step === 'spare')).toMatchObject({
      message: 'ha-a: its anti-affinity group ha-pair already has a member on spare1: evacuated without a target, the scheduler chooses a host that keeps the group\'s policy',
      data: { group: 'ha-pair', heldOn: ['spare1'] },
    });
  });

  it('max_server_per_host = 2: two members go to the spare, the third is left to the scheduler, which keeps the rule', async () => {
    const w = await suite.world({ hosts: 2, instancesPerHost: 0, spares: 1 });
    await addGroup(w, { name: 'trio', policy: 'anti-affinity', maxServerPerHost: 2 });
    const ids = [];
    for (const n of ['t-1', 't-2', 't-3']) ids.push(await addServer(w, { host: 'compute1', name: n, group: 'trio' }));
    const inc = await fail(w, 'sg-max-1');

    expect(inc.status).toBe('resolved');
    const hosts = inc.instances.map((e) => e.target);
    expect(hosts.filter((h) => h === 'spare1')).toHaveLength(2);
    expect(hosts.filter((h) => h === 'compute2')).toHaveLength(1);
    const targeted = await Promise.all(ids.map(async (id) => (await evacuateBodies(w, id))[0]!.host ?? null));
    expect(targeted.filter((h) => h === 'spare1')).toHaveLength(2);
    expect(targeted.filter((h) => h === null)).toHaveLength(1);
    expect((await w.calls()).filter(isEvacuate).every((c) => !('force' in (c.body as { evacuate: object }).evacuate))).toBe(true);
  });

  it('a named target the scheduler refuses for the group\'s policy: evacuated once more without a target, and the timeline says so', async () => {
    const w = await suite.world({ hosts: 2, instancesPerHost: 0, spares: 1 });
    await addGroup(w, { name: 'ha-pair', policy: 'anti-affinity' });
    await addServer(w, { host: 'spare1', name: 'ha-b', group: 'ha-pair' });
    const a = await addServer(w, { host: 'compute1', name: 'ha-a', group: 'ha-pair' });
    // A cloud whose groups cannot be read: the plan names the spare by capacity alone.
    const blind = Object.assign(Object.create(computeOf(w.nova, { config: w.config })) as ComputeBackend, { guestGroups: undefined });
    const inc = await fail(w, 'sg-refused-1', blind);

    expect(inc.status).toBe('resolved');
    const entry = inc.instances.find((e) => e.name === 'ha-a')!;
    expect(entry).toMatchObject({ state: 'verified', target: 'compute2', retargetedFrom: 'spare1' });
    expect(await evacuateBodies(w, a)).toEqual([{ host: 'spare1' }, {}]);
    expect(inc.timeline.map((t) => t.message)).toContainEqual(expect.stringMatching(/^ha-a: evacuation to spare1 failed \(.+\); evacuating it again without a target, the scheduler chooses$/));
    // The group's policy held: the two members are on different hosts.
    expect((await w.nova.getServer(a))!.host).not.toBe('spare1');
  });
});
