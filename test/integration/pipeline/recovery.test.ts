import { describe, expect, it } from 'vitest';
import { callsAbout, isEvacuate, isForceOff, isServicePut, pipelineSuite, type PipelineWorld, waitClosed, waitFor } from './world.js';

// Whole recoveries against the simulated cloud: real OpenStack client over HTTP, Redfish fencing through the
// simulator's BMCs, BullMQ on a real Redis. The simulator's call log is the witness of what cmpha did.

const suite = pipelineSuite();

async function dead(world: PipelineWorld, host: string, how: 'power-off' | 'hang' = 'power-off') {
  const before = await world.serversOn(host);
  await world.control(host, how);
  await world.waitNovaDown(host);
  return before;
}

describe('recovery pipeline on the simulated cloud', () => {
  it('a powered-off host: fenced first, then every ACTIVE/ERROR server evacuated once to the spare and verified', async () => {
    const w = await suite.world({ hosts: 3, instancesPerHost: 6, spares: 1 });
    const servers = await dead(w, 'compute1');
    const movable = servers.filter((s) => ['ACTIVE', 'ERROR'].includes(s.status));
    expect(movable.length).toBeGreaterThan(0);
    const r = w.recovery(suite.redis);
    await r.startWorkers();
    expect(await r.opener.open({ id: 'compute1-1', host: 'compute1', failureStartedAt: Date.now() - 3000, evidence: { mgmt: 'silent' } })).toEqual({ created: true });
    const inc = await waitClosed(r, 'compute1-1');
    expect(inc.status).toBe('resolved');

    const svcId = (await w.nova.listComputeServices({ host: 'compute1' }))[0]!.id;
    const calls = callsAbout(await w.calls(), 'compute1', servers.map((s) => s.id), svcId);
    // The power already read off: nothing to send to the BMC, and no Nova change before that reading.
    expect(calls.filter(isForceOff)).toEqual([]);
    expect(inc.fence).toMatchObject({ driver: 'redfish', alreadyOff: true, unfenced: false });
    const firstNova = calls.find((c) => isServicePut(c) || isEvacuate(c))!;
    expect(Date.parse(firstNova.time)).toBeGreaterThanOrEqual(inc.fence!.at);
    expect(calls.filter(isServicePut).map((c) => c.body)).toEqual([
      { forced_down: true },
      { status: 'disabled', disabled_reason: expect.stringMatching(/^cmpha incident compute1-1 /) },
    ]);
    for (const s of movable) expect(calls.filter((c) => isEvacuate(c) && c.path.includes(s.id))).toHaveLength(1);
    expect(calls.filter(isEvacuate)).toHaveLength(movable.length);

    const onSpare = await w.serversOn('spare1');
    expect(onSpare.map((s) => s.id).sort()).toEqual(movable.map((s) => s.id).sort());
    expect(onSpare.every((s) => s.status === 'ACTIVE')).toBe(true);
    expect(inc.instances.filter((e) => e.state === 'verified')).toHaveLength(movable.length);
    expect(inc.spares).toEqual([{ host: 'spare1', serverIds: expect.any(Array) }]);
    expect(w.notifier.events.map((e) => e.type)).toEqual(['incident-opened', 'incident-resolved']);
    expect(inc.failoverMs).toBeGreaterThan(0);
    // In a Nova operator's words (the Cloudpods wording: cloudpods-failover.test.ts).
    const said = inc.timeline.map((t) => t.message);
    expect(said).toContain('nova-compute on compute1 forced down');
    expect(said).toContainEqual(expect.stringMatching(/^nova-compute on compute1 disabled: "cmpha incident compute1-1 /));
    expect(said.filter((m) => /^Nova accepted the evacuation of /.test(m))).toHaveLength(movable.length);
  });

  it('a hung host: powered off through its BMC before any force-down, then recovered', async () => {
    const w = await suite.world({ hosts: 3, instancesPerHost: 3, spares: 1 });
    const servers = await dead(w, 'compute2', 'hang');
    const r = w.recovery(suite.redis);
    await r.startWorkers();
    await r.opener.open({ id: 'compute2-hang', host: 'compute2', failureStartedAt: Date.now(), evidence: {} });
    const inc = await waitClosed(r, 'compute2-hang');
    expect(inc.status).toBe('resolved');
    const svcId = (await w.nova.listComputeServices({ host: 'compute2' }))[0]!.id;
    const calls = callsAbout(await w.calls(), 'compute2', servers.map((s) => s.id), svcId);
    expect(calls[0]).toMatchObject({ service: 'redfish', method: 'POST', body: { ResetType: 'ForceOff' } });
    expect(inc.fence).toMatchObject({ driver: 'redfish', alreadyOff: false, unfenced: false });
    const state = (await (await fetch(`${w.sim.controlUrl}/sim/state?host=compute2&servers=0`)).json()) as { hosts: Array<{ power: string }> };
    expect(state.hosts[0]!.power).toBe('off');
  });

  it('a BMC that fails: no force-down, no evacuate, a critical fence-failed notice', async () => {
    const w = await suite.world({ hosts: 3, instancesPerHost: 2, spares: 1 });
    await w.control('compute1', 'bmc', { mode: 'error' });
    const servers = await dead(w, 'compute1', 'hang');
    const r = w.recovery(suite.redis);
    await r.startWorkers();
    await r.opener.open({ id: 'compute1-bmc', host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
    const inc = await waitClosed(r, 'compute1-bmc', 45_000, ['awaiting_fence']);
    expect(inc.status).toBe('awaiting_fence');
    expect(inc.error!.message).toMatch(/nothing was forced down or evacuated/);
    const svcId = (await w.nova.listComputeServices({ host: 'compute1' }))[0]!.id;
    const calls = callsAbout(await w.calls(), 'compute1', servers.map((s) => s.id), svcId);
    expect(calls.filter((c) => isServicePut(c) || isEvacuate(c))).toEqual([]);
    // The status is written before the page goes out: wait for the page, then check it is the last word.
    await waitFor('the fence-failed page', async () => w.notifier.events.some((e) => e.type === 'fence-failed'), 10_000);
    expect(w.notifier.events.at(-1)).toMatchObject({ type: 'fence-failed', severity: 'critical', incidentId: 'compute1-bmc' });
    expect((await w.nova.listComputeServices({ host: 'compute1' }))[0]).toMatchObject({ forcedDown: false, status: 'enabled' });
  });

  it('a host that comes back before fencing: aborted, nothing done', async () => {
    const w = await suite.world({ hosts: 3, instancesPerHost: 2, spares: 1 });
    await dead(w, 'compute3');
    await w.control('compute3', 'power-on');
    await waitFor('compute3 to answer again', () => w.isHostAlive('compute3'), 10_000);
    const r = w.recovery(suite.redis);
    await r.startWorkers();
    await r.opener.open({ id: 'compute3-back', host: 'compute3', failureStartedAt: Date.now(), evidence: {} });
    const inc = await waitClosed(r, 'compute3-back');
    expect(inc.status).toBe('aborted');
    const calls = (await w.calls()).filter((c) => c.path.includes('compute3') || isEvacuate(c) || isServicePut(c));
    expect(calls.filter((c) => c.service === 'redfish' || isEvacuate(c) || isServicePut(c))).toEqual([]);
    expect(w.notifier.events.at(-1)).toMatchObject({ type: 'incident-aborted' });
  });
});
