import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerFenceCommands } from '../../../src/cli/commands/fence.js';
import { composeRecovery } from '../../../src/app/root.js';
import { formatIncident } from '../../../src/incidents/format.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { cloudpodsSuite, isHostChange, isMigrate, type CloudpodsWorld } from './cloudpods-world.js';
import { FAST_QUEUE, isForceOff, waitClosed, waitFor } from './world.js';

// Whole recoveries on a simulated Cloudpods region, as on OpenStack (recovery.test.ts, fence-confirm.test.ts):
// the real region client and Cloudpods adapter over HTTP, Redfish fencing through the simulator's BMCs, BullMQ on
// a real Redis. The simulator's call log is the witness of what cmpha did; the region's own view is what a user
// would check afterwards.

const suite = cloudpodsSuite();

/** Mutating calls about one host or its guests, in the order the simulator received them. */
async function callsAbout(w: CloudpodsWorld, host: string, guestIds: readonly string[]) {
  const hostId = (await w.compute.host(host)).id;
  return (await w.calls()).filter((c) => c.path.includes(`/Systems/${host}`) || c.path.includes(`/hosts/${hostId}/`)
    || guestIds.some((id) => c.path.includes(`/servers/${id}/`)));
}

describe('recovery pipeline on a simulated Cloudpods region', () => {
  it('a hung host (answers nothing, BMC reads on): powered off through its BMC before it is set offline, its guests migrated once each and running on the spare', async () => {
    const w = await suite.world({ hosts: 3, instancesPerHost: 3, spares: 1 });
    const guests = (await w.guestsOn('compute2')).filter((g) => g.status === 'ACTIVE');
    expect(guests.length).toBeGreaterThan(0);
    await w.control('compute2', 'hang');
    await w.waitSilent('compute2');
    const r = w.recovery(suite.redis);
    await r.startWorkers();
    await r.opener.open({ id: 'cp2-hang', host: 'compute2', failureStartedAt: Date.now(), evidence: {} });
    const inc = await waitClosed(r, 'cp2-hang');
    expect(inc.status).toBe('resolved');

    const calls = await callsAbout(w, 'compute2', guests.map((g) => g.id));
    // The BMC's power-off is the first thing cmpha changes; the region hears of nothing before.
    expect(calls.find((c) => c.method === 'POST')).toMatchObject({ service: 'redfish', body: { ResetType: 'ForceOff' } });
    expect(inc.fence).toMatchObject({ driver: 'redfish', alreadyOff: false, unfenced: false });
    const firstRegion = calls.find((c) => isHostChange(c) || isMigrate(c))!;
    expect(Date.parse(firstRegion.time)).toBeGreaterThanOrEqual(inc.fence!.at);
    expect(calls.filter(isForceOff)).toHaveLength(1);
    const state = (await (await fetch(`${w.sim.controlUrl}/sim/state?host=compute2&servers=0`)).json()) as { hosts: Array<{ power: string }> };
    expect(state.hosts[0]!.power).toBe('off');

    // What a user checks: every guest runs on the spare, migrated once, verified; the host offline with cmpha's mark.
    // (A guest still booting when the host hung is moved too: the verified ones include every running one.)
    const verified = inc.instances.filter((e) => e.state === 'verified').map((e) => e.id);
    expect(verified).toEqual(expect.arrayContaining(guests.map((g) => g.id)));
    for (const id of verified) {
      expect(await w.migrateCalls(id)).toHaveLength(1);
      expect(await w.compute.guest(id)).toMatchObject({ host: 'spare1', status: 'ACTIVE', vmState: 'running' });
    }
    expect(await w.compute.host('compute2')).toMatchObject({ isolated: true, status: 'disabled', marker: { incident: { id: 'cp2-hang' } } });
    const steps = inc.timeline.map((t) => t.step);
    expect(steps.indexOf('fence')).toBeLessThan(steps.indexOf('force-down'));
    expect(steps.indexOf('force-down')).toBeLessThan(steps.indexOf('evacuate'));
    expect(w.notifier.events.map((e) => e.type)).toEqual(['incident-opened', 'incident-resolved']);
    expect(w.notifier.events.at(-1)).toMatchObject({ host: 'compute2', incidentId: 'cp2-hang' });
    // In a Cloudpods operator's words: the host set offline and disabled, Cloudpods accepting each migration; no Nova.
    const said = inc.timeline.map((t) => t.message);
    expect(said).toContain('host compute2 set offline');
    expect(said).toContainEqual(expect.stringMatching(/^host compute2 disabled: "cmpha incident cp2-hang /));
    expect(said.filter((m) => /^Cloudpods accepted the evacuation of /.test(m))).toHaveLength(verified.length);
    for (const text of [...said, ...w.notifier.events.map((e) => `${e.summary}\n${e.details ?? ''}`)]) expect(text).not.toMatch(/Nova|nova-compute/);
  });

  it('a dead BMC: nothing changes in the region until the operator confirms with cmpha fence confirm; then the guests are migrated once each', async () => {
    const w = await suite.world({ hosts: 3, instancesPerHost: 3, spares: 1 });
    await w.control('compute1', 'bmc', { mode: 'error' });
    const guests = (await w.guestsOn('compute1')).filter((g) => g.status === 'ACTIVE');
    expect(guests.length).toBeGreaterThan(0);
    await w.control('compute1', 'power-off');
    await w.waitSilent('compute1');
    const r = w.recovery(suite.redis);
    await r.startWorkers();
    await r.opener.open({ id: 'cp1-bmc', host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
    const waiting = await waitClosed(r, 'cp1-bmc', 45_000, ['awaiting_fence']);
    expect(waiting.status).toBe('awaiting_fence');
    const changes = async () => (await callsAbout(w, 'compute1', guests.map((g) => g.id))).filter((c) => isHostChange(c) || isMigrate(c));
    expect(await changes()).toEqual([]);
    await waitFor('the fence-failed page', async () => w.notifier.events.some((e) => e.type === 'fence-failed'), 10_000);
    expect(w.notifier.events.at(-1)).toMatchObject({ type: 'fence-failed', severity: 'critical', incidentId: 'cp1-bmc' });
    expect(formatIncident(waiting)).toMatch(/fence {5}FAILED: waiting for an operator .* `cmpha fence confirm compute1 --yes`/);

    const run = { code: -1, out: '', err: '' };
    const program = new Command('cmpha').exitOverride();
    registerFenceCommands(program, {
      loadConfig: async () => w.config, loadFullConfig: async () => w.config, createLogger: () => silentLogger, user: () => 'alice',
      startWorker: (config, logger) => composeRecovery(config, { logger, notifier: w.notifier, queue: FAST_QUEUE }),
      stdout: (t: string) => { run.out += t; }, stderr: (t: string) => { run.err += t; }, setExitCode: (c: number) => { run.code = c; },
    });
    await program.parseAsync(['node', 'cmpha', 'fence', 'confirm', 'compute1', '--yes', '--note', 'both cords pulled at the rack']);
    expect(run).toMatchObject({ code: 0, out: expect.stringMatching(/compute1: fence confirmed by alice for incident cp1-bmc/) });

    const inc = await waitClosed(r, 'cp1-bmc', 60_000);
    expect(inc.status).toBe('resolved');
    expect(inc.fence).toMatchObject({ driver: 'operator', confirmedBy: { user: 'alice', note: 'both cords pulled at the rack' } });
    expect(inc.timeline.some((t) => t.level === 'critical' && /fence confirmed by alice at .*both cords pulled/.test(t.message))).toBe(true);
    expect(w.notifier.events.find((e) => e.type === 'fence-confirmed')).toMatchObject({ severity: 'critical', host: 'compute1' });
    const confirmedAt = inc.fence!.at;
    const made = await changes();
    expect(made.length).toBeGreaterThan(0);
    for (const c of made) expect(Date.parse(c.time)).toBeGreaterThanOrEqual(confirmedAt);
    for (const g of guests) {
      expect(await w.migrateCalls(g.id)).toHaveLength(1);
      expect(await w.compute.guest(g.id)).toMatchObject({ host: 'spare1', status: 'ACTIVE' });
    }
    expect(w.notifier.events.at(-1)).toMatchObject({ type: 'incident-resolved', incidentId: 'cp1-bmc' });
  });

  it('a stopped guest is moved off the dead host and stopped again on the spare (the region starts what it rescue-migrates): one migrate, one stop, verified SHUTOFF', async () => {
    // The region's own offline marking (HostOfflineMaxSeconds) would mark every guest unknown: cmpha sets the host offline first.
    const w = await suite.world({ hosts: 2, instancesPerHost: 1, spares: 1, serviceDownTimeSeconds: 120, evacuation: { states: ['ACTIVE', 'ERROR', 'SHUTOFF'] } });
    const r0 = await fetch(`${w.sim.controlUrl}/sim/servers`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'stopped-1', host: 'compute1', status: 'SHUTOFF' }) });
    const stoppedId = ((await r0.json()) as { server: { id: string } }).server.id;
    const guests = (await w.guestsOn('compute1')).filter((g) => ['ACTIVE', 'SHUTOFF'].includes(g.status));
    expect(guests.find((g) => g.id === stoppedId)).toMatchObject({ status: 'SHUTOFF', vmState: 'ready' });
    await w.control('compute1', 'power-off');
    await w.waitSilent('compute1');
    const r = w.recovery(suite.redis);
    await r.startWorkers();
    await r.opener.open({ id: 'cp1-stopped', host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
    const inc = await waitClosed(r, 'cp1-stopped');
    expect(inc.status).toBe('resolved');

    expect(await w.compute.guest(stoppedId)).toMatchObject({ host: 'spare1', status: 'SHUTOFF', vmState: 'ready', taskState: null });
    // Every guest in the state it had: running ones running, stopped ones stopped; each stopped one stopped once.
    for (const g of guests) expect(await w.compute.guest(g.id)).toMatchObject({ host: 'spare1', status: g.status });
    for (const g of guests) expect(await w.migrateCalls(g.id)).toHaveLength(1);
    const stops = (await w.calls()).filter((c) => c.service === 'cloudpods' && c.method === 'POST' && c.path.endsWith('/stop'));
    expect(stops.map((c) => c.path.split('/').at(-2)).sort()).toEqual(guests.filter((g) => g.status === 'SHUTOFF').map((g) => g.id).sort());
    expect(inc.instances.find((e) => e.id === stoppedId)).toMatchObject({ state: 'verified', recovery: { expect: 'SHUTOFF', restore: 'stop' } });
    const notes = inc.timeline.filter((t) => t.serverId === stoppedId).map((t) => t.message);
    expect(notes).toContainEqual(expect.stringMatching(/^stopped-1: was SHUTOFF; asking for stop on spare1$/));
    expect(notes).toContainEqual(expect.stringMatching(/^stopped-1 is SHUTOFF on spare1, as it was \(the region starts a guest it migrates off a dead host; .*\)$/));
  });
});
