import { describe, expect, it } from 'vitest';
import { formatIncident } from '../../../src/incidents/format.js';
import { isEvacuate, pipelineSuite, waitClosed, waitFor, type PipelineWorld } from './world.js';

// A server that fits on no host waits for room (awaiting_capacity), visible and paged once, and is evacuated
// exactly once as soon as room appears; the wait is bounded. Real Redis, the recovery through BullMQ, the
// Nova simulator (its scheduler refuses a host without the vCPU free: no overcommit here).

const suite = pipelineSuite();

async function addServer(w: PipelineWorld, spec: Record<string, unknown>): Promise<string> {
  const r = await fetch(`${w.sim.controlUrl}/sim/servers`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });
  if (r.status !== 201) throw new Error(`adding ${String(spec.name)}: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { server: { id: string } }).server.id;
}

async function deleteServer(w: PipelineWorld, id: string): Promise<void> {
  const r = await fetch(`${w.sim.controlUrl}/sim/servers/${id}`, { method: 'DELETE' });
  if (r.status !== 204) throw new Error(`deleting ${id}: ${r.status}`);
}

/** compute1 holds a 4-vCPU server (and `small` ones); compute2 (5 vCPU, no overcommit) has 1 vCPU free. */
async function fullCloud(evacuation: Record<string, unknown>, hosts = 2, small: readonly string[] = []) {
  const w = await suite.world({
    hosts, instancesPerHost: 0, spares: 0, hostVcpus: 5, cpuAllocationRatio: 1,
    evacuation: { concurrency: 2, capacityRecheckMs: 300, ...evacuation },
  });
  const big = await addServer(w, { host: 'compute1', name: 'big', flavor: 'm1.large' });
  const filler = await addServer(w, { host: 'compute2', name: 'filler', flavor: 'm1.large' });
  const smalls = [];
  for (const name of small) smalls.push(await addServer(w, { host: 'compute1', name, flavor: 'm1.tiny' }));
  await w.control('compute1', 'power-off');
  await w.waitNovaDown('compute1');
  return { w, big, filler, smalls };
}

async function evacuationsOf(w: PipelineWorld, id: string): Promise<number> {
  return (await w.calls()).filter(isEvacuate).filter((c) => c.path.includes(id)).length;
}

describe('no room: a server waits for capacity', () => {
  it('waits visibly (paged once), and is evacuated exactly once when another server is deleted', async () => {
    const { w, big, filler } = await fullCloud({});
    const r = w.recovery(suite.redis);
    await r.startWorkers();
    await r.opener.open({ id: 'room-1', host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
    await waitFor('big to wait for room', async () => (await r.incidents.getInstance('room-1', big))?.state === 'awaiting_capacity');
    // Several looks later it still waits, the incident open, one page, nothing sent to Nova.
    const first = (await r.incidents.getInstance('room-1', big))!;
    expect(first.noRoom).toMatch(/^no host has 4 vCPU and 8192 MB free \(free: compute2 1 vCPU/);
    // Each look that still finds no room is recorded (the entry's revision moves on).
    await waitFor('a few more looks', async () => (await r.incidents.getInstance('room-1', big))!.rev >= first.rev + 3);
    const waiting = (await r.incidents.get('room-1'))!;
    expect(waiting.status).toBe('evacuating');
    // `cmpha incidents show` names it, with why.
    const shown = formatIncident(waiting);
    expect(shown).toMatch(/\n {2}big\s+\S+\s+awaiting_capacity\s+-\s+0\s+.*waiting for room: no host has 4 vCPU/);
    expect(shown).toMatch(/\nwaiting for room \(evacuated as soon as a host has room; [^)]*\)\n {2}big: since .*: no host has 4 vCPU/);
    expect(await evacuationsOf(w, big)).toBe(0);
    expect(w.notifier.events.filter((e) => e.type === 'capacity-wait')).toHaveLength(1);
    expect(w.notifier.events.find((e) => e.type === 'capacity-wait')).toMatchObject({
      severity: 'critical', summary: expect.stringMatching(/^compute1: 1 server\(s\) fit on no host and wait for room \(big\)/),
    });

    await deleteServer(w, filler);
    const inc = await waitClosed(r, 'room-1');
    expect(inc.status).toBe('resolved');
    expect(inc.instances.find((e) => e.id === big)).toMatchObject({ state: 'verified', target: 'compute2', attempts: 1 });
    expect(await evacuationsOf(w, big)).toBe(1);
    expect(w.notifier.events.filter((e) => e.type === 'capacity-wait')).toHaveLength(1);
    expect(w.notifier.events.filter((e) => e.type === 'capacity-found').map((e) => e.summary)).toEqual([
      expect.stringMatching(/^compute1: big found room after waiting .*; evacuating it, the scheduler chooses \(compute2 has room\)$/),
    ]);
    const messages = inc.timeline.map((t) => t.message);
    expect(messages).toContainEqual(expect.stringMatching(/^big: no host has 4 vCPU .*; waiting for room \(looking again every 300ms, for at most 60m\)$/));
  });

  it('a host enabled by the operator gives room: the waiting server moves there, once', async () => {
    const { w, big } = await fullCloud({}, 3);
    const svc = (await w.nova.listComputeServices({ host: 'compute3' }))[0]!;
    await w.nova.updateService(svc.id, { status: 'disabled', disabledReason: 'maintenance' });
    const r = w.recovery(suite.redis);
    await r.startWorkers();
    await r.opener.open({ id: 'room-2', host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
    await waitFor('big to wait for room', async () => (await r.incidents.getInstance('room-2', big))?.state === 'awaiting_capacity');
    await w.nova.updateService(svc.id, { status: 'enabled' });
    const inc = await waitClosed(r, 'room-2');
    expect(inc.status).toBe('resolved');
    expect(inc.instances.find((e) => e.id === big)).toMatchObject({ state: 'verified', target: 'compute3' });
    expect(await evacuationsOf(w, big)).toBe(1);
  });

  it('a spare added while it waits (a host disabled with the spare reason) is claimed, enabled, and takes the server', async () => {
    const { w, big } = await fullCloud({}, 3);
    const svc = (await w.nova.listComputeServices({ host: 'compute3' }))[0]!;
    await w.nova.updateService(svc.id, { status: 'disabled', disabledReason: 'maintenance' });
    const r = w.recovery(suite.redis);
    await r.startWorkers();
    await r.opener.open({ id: 'room-spare', host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
    await waitFor('big to wait for room', async () => (await r.incidents.getInstance('room-spare', big))?.state === 'awaiting_capacity');
    await w.nova.updateService(svc.id, { status: 'disabled', disabledReason: 'down_prepare' });
    const inc = await waitClosed(r, 'room-spare');
    expect(inc.status).toBe('resolved');
    expect(inc.instances.find((e) => e.id === big)).toMatchObject({ state: 'verified', target: 'compute3' });
    expect(inc.spares).toEqual([{ host: 'compute3', serverIds: [big] }]);
    expect(inc.timeline.map((t) => t.message)).toContain('spare compute3 taken for big, which fits nowhere else');
    expect(await evacuationsOf(w, big)).toBe(1);
  });

  it('a controller restarted mid-wait resumes the wait, and the server is evacuated once room appears', async () => {
    const { w, big, filler } = await fullCloud({});
    const r = w.recovery(suite.redis);
    await r.startWorkers();
    await r.opener.open({ id: 'room-3', host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
    await waitFor('big to wait for room', async () => (await r.incidents.getInstance('room-3', big))?.state === 'awaiting_capacity');
    await r.stop();
    const r2 = w.recovery(suite.redis);
    await r2.startWorkers();
    const before = (await r2.incidents.getInstance('room-3', big))!;
    await waitFor('the new controller to look again', async () => (await r2.incidents.getInstance('room-3', big))!.rev >= before.rev + 2);
    expect((await r2.incidents.getInstance('room-3', big))).toMatchObject({ state: 'awaiting_capacity', awaitingSince: before.awaitingSince });
    await deleteServer(w, filler);
    const inc = await waitClosed(r2, 'room-3');
    expect(inc.status).toBe('resolved');
    expect(await evacuationsOf(w, big)).toBe(1);
    expect(w.notifier.events.filter((e) => e.type === 'capacity-wait')).toHaveLength(1);
  });

  it('the wait is bounded: after capacity_wait the server is failed, named, and the incident ends partial with a page', async () => {
    const { w, big, smalls: [small] } = await fullCloud({ capacityWaitMs: 1500 }, 2, ['small']);
    const r = w.recovery(suite.redis);
    await r.startWorkers();
    await r.opener.open({ id: 'room-4', host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
    const inc = await waitClosed(r, 'room-4');
    expect(inc.status).toBe('partial');
    expect(inc.instances.find((e) => e.id === big)).toMatchObject({ state: 'failed', error: expect.stringMatching(/^no room within 1\.5s \(capacity_wait\): no host has 4 vCPU/) });
    expect(inc.instances.find((e) => e.id === small)).toMatchObject({ state: 'verified', target: 'compute2' });
    expect(await evacuationsOf(w, big)).toBe(0);
    expect(w.notifier.events.filter((e) => e.type === 'capacity-wait')).toHaveLength(1);
    const partial = w.notifier.events.find((e) => e.type === 'incident-partial');
    expect(partial?.details).toMatch(/big \(.*\): no room within 1\.5s/);
  });
});
