import { describe, expect, it } from 'vitest';
import { isEvacuate, pipelineWorld, waitClosed, type PipelineWorld, pipelineSuite } from './world.js';

// Whole recoveries against the simulator while it garbles chosen Nova answers (corrupt rules in /sim/faults):
// cmpha must never report a recovery that did not happen, and one garbled answer must not end a recovery.

const s = pipelineSuite();

const SERVER_READ = '/servers/[0-9a-f-]{36}$';
const INVENTORY = '/servers/detail\\?.*host=compute1';

/** A dead compute1 with `n` ACTIVE servers and one spare; the recovery is started, nothing opened yet. */
async function deadHost(n = 4) {
  s.w = await pipelineWorld({ hosts: 2, instancesPerHost: 0, spares: 1, redisUrl: s.redisUrl, evacuation: { verifyTimeoutMs: 8000 } });
  for (let i = 0; i < n; i++) {
    const r = await fetch(`${s.w.sim.controlUrl}/sim/servers`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: 'compute1', name: `vm${i}`, flavor: 'm1.tiny' }),
    });
    if (r.status !== 201) throw new Error(`adding vm${i}: ${r.status} ${await r.text()}`);
  }
  const servers = await s.w.serversOn('compute1');
  await s.w.control('compute1', 'power-off');
  await s.w.waitNovaDown('compute1');
  const r = s.w.recovery(s.redis);
  await r.startWorkers();
  return { world: s.w, r, servers };
}

async function stillOn(world: PipelineWorld, host: string): Promise<number> {
  const st = (await (await fetch(`${world.sim.controlUrl}/sim/state?host=${host}`)).json()) as { servers: Array<{ host: string }> };
  return st.servers.filter((s) => s.host === host).length;
}

describe('malformed Nova answers during a recovery', () => {
  it('a server read naming the host as a number (12345) is never taken for a verified evacuation', async () => {
    const { world, r, servers } = await deadHost();
    await world.faults({ corrupt: [{ path: SERVER_READ, set: { 'server.OS-EXT-SRV-ATTR:host': 12345 } }] });
    await r.opener.open({ id: 'num-host', host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
    const inc = await waitClosed(r, 'num-host', 90_000);
    expect(inc.status).not.toBe('resolved');
    expect(inc.instances).toHaveLength(servers.length);
    expect(inc.instances.filter((e) => e.state === 'verified')).toEqual([]);
    for (const e of inc.instances) expect(e.error).toMatch(/malformed body: server\.OS-EXT-SRV-ATTR:host is the number 12345/);
    expect(inc.timeline.map((t) => t.message).join('\n')).not.toMatch(/runs ACTIVE on 12345/);
    // The servers did not move, and cmpha says so loudly.
    expect(await stillOn(world, 'compute1')).toBe(servers.length);
    expect(world.notifier.events.at(-1)).toMatchObject({ severity: 'critical' });
  }, 120_000);

  it('after the evacuate, a server read naming a host Nova does not list is "cannot verify", then failed and paged', async () => {
    const { world, r, servers } = await deadHost(2);
    const victim = servers[0]!;
    // Its two reads before the evacuate are true; every read after names a host no compute service has.
    await world.faults({ corrupt: [{ path: `/servers/${victim.id}$`, set: { 'server.OS-EXT-SRV-ATTR:host': 'ghost-host' }, skip: 2 }] });
    await r.opener.open({ id: 'ghost', host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
    const inc = await waitClosed(r, 'ghost', 60_000);
    expect(inc.status).toBe('partial');
    const entry = inc.instances.find((e) => e.id === victim.id)!;
    expect(entry).toMatchObject({ state: 'failed', error: expect.stringMatching(/cannot verify: Nova names host "ghost-host", which is not a nova-compute service it lists/) });
    expect(inc.instances.find((e) => e.id !== victim.id)).toMatchObject({ state: 'verified', target: 'spare1' });
    expect((await world.calls()).filter((c) => isEvacuate(c) && c.path.includes(victim.id))).toHaveLength(1);
    expect(world.notifier.events.at(-1)).toMatchObject({ type: 'incident-partial', severity: 'critical' });
  }, 90_000);

  it('one garbled answer to one server read is retried like a 5xx: every server is evacuated once and verified', async () => {
    const { world, r, servers } = await deadHost();
    await world.faults({ corrupt: [{ path: SERVER_READ, raw: '<html><body>502 Bad Gateway</body></html>', times: 1 }] });
    await r.opener.open({ id: 'one-bad', host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
    const inc = await waitClosed(r, 'one-bad', 60_000);
    expect(inc.status).toBe('resolved');
    expect(inc.instances.filter((e) => e.state === 'verified')).toHaveLength(servers.length);
    expect((await world.injectedFaults()) as unknown).toMatchObject({ corrupted: 1 });
    const evacuations = (await world.calls()).filter(isEvacuate);
    for (const s of servers) expect(evacuations.filter((c) => c.path.includes(s.id))).toHaveLength(1);
  }, 90_000);

  it('servers listed without an id: the inventory fails naming the field, nothing is evacuated, a human is paged', async () => {
    const { world, r, servers } = await deadHost();
    await world.faults({ corrupt: [{ path: INVENTORY, unset: ['servers.*.id'] }] });
    await r.opener.open({ id: 'no-id', host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
    const inc = await waitClosed(r, 'no-id', 90_000);
    expect(inc.status).toBe('failed');
    expect(inc.error).toMatchObject({ code: 'nova_malformed_answer', message: expect.stringMatching(/servers\[0\]\.id is missing/) });
    expect(inc.instances).toEqual([]);
    expect((await world.calls()).filter(isEvacuate)).toEqual([]);
    expect(await stillOn(world, 'compute1')).toBe(servers.length);
    expect(world.notifier.events.at(-1)).toMatchObject({ type: 'incident-failed', severity: 'critical' });
  }, 120_000);

  it.each([
    ['a server list that is not a list', { set: { servers: {} } }, /servers is an object/],
    ['a huge answer without the list', { unset: ['servers'], padBytes: 8_000_000 }, /servers is missing/],
  ])('%s: the inventory fails and pages, never an empty host closed resolved', async (_what, rule, why) => {
    const { world, r, servers } = await deadHost(5);
    await world.faults({ corrupt: [{ path: INVENTORY, ...rule }] });
    await r.opener.open({ id: 'bad-list', host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
    const inc = await waitClosed(r, 'bad-list', 90_000);
    expect(inc.status).toBe('failed');
    expect(inc.error?.message).toMatch(why);
    expect(inc.timeline.some((t) => t.step === 'inventory' && t.level === 'warning' && /cannot read the servers on compute1/.test(t.message))).toBe(true);
    expect(await stillOn(world, 'compute1')).toBe(servers.length);
    expect(world.notifier.events.map((e) => e.type)).not.toContain('incident-resolved');
    expect(world.notifier.events.at(-1)).toMatchObject({ type: 'incident-failed', severity: 'critical' });
  }, 120_000);

  it('an empty server list for a host the detector saw servers on is called suspicious in the timeline and a warning', async () => {
    const { world, r } = await deadHost(3);
    await world.faults({ corrupt: [{ path: INVENTORY, set: { servers: [] } }] });
    // The detector's evidence: it listed these servers' addresses on the suspect host.
    const evidence = { host: 'compute1', instances: { checked: true, addresses: ['vm0', 'vm1', 'vm2'].map((server, i) => ({ ip: `198.18.1.${10 + i}`, server, network: 'provider', baseline: true, result: 'silent' })) } };
    await r.opener.open({ id: 'empty', host: 'compute1', failureStartedAt: Date.now(), evidence });
    const inc = await waitClosed(r, 'empty', 60_000);
    const warning = inc.timeline.find((t) => t.step === 'inventory' && t.level === 'warning');
    expect(warning?.message).toMatch(/Nova lists no servers on compute1, but listed 3 there before the incident \(vm0, vm1, vm2\)/);
    expect(world.notifier.events.find((e) => e.type === 'inventory-suspicious')).toMatchObject({ severity: 'warning', host: 'compute1' });
  }, 90_000);
});
