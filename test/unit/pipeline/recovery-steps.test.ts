import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../../../src/metrics/metrics.js';
import { prepareIncident } from '../../../src/pipeline/prepare-incident.js';
import { runIncident } from '../../helpers/run-incident.js';
import { disableStep } from '../../../src/pipeline/steps/disable.js';
import { fenceStep } from '../../../src/pipeline/steps/fence.js';
import { outcomeOf } from '../../../src/pipeline/steps/finalize.js';
import { forceDownStep } from '../../../src/pipeline/steps/force-down.js';
import { spareStep } from '../../../src/pipeline/steps/spare.js';
import { inventoryStep } from '../../../src/pipeline/steps/inventory.js';
import { CmphaError } from '../../../src/shared/errors.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { FakeBmc, makeHarness, newRedis, type Harness } from './harness.js';

let server: RedisServer;
let redis: Redis;
beforeAll(async () => {
  server = await startRedis();
  redis = newRedis(server.url);
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

async function incident(h: Harness, servers: number, opts: { origin?: 'operator' } = {}): Promise<void> {
  h.nova.addHost('cmp1', { zone: 'az1' }).addHost('cmp2', { zone: 'az1' });
  h.nova.addHost('spare1', { zone: 'az1', status: 'disabled', disabledReason: 'down_prepare reserved' });
  for (let i = 0; i < servers; i++) h.nova.addServer({ id: `s${i}`, name: `vm${i}`, host: 'cmp1' });
  h.nova.markDown('cmp1');
  await h.store.create({ id: 'inc-1', host: 'cmp1', failureStartedAt: Date.now() - 5000, evidence: { probe: 'silent' } }, { origin: opts.origin ?? 'detector' });
}

const methods = (h: Harness) => h.nova.calls.map((c) => c.method).filter((m) => m.startsWith('fence:powerOff') || ['updateService', 'evacuate'].includes(m));

describe('recovery of one host', () => {
  it('fences, forces down, disables, enables the spare, then evacuates: in that order, once per server', async () => {
    const h = makeHarness(redis);
    await incident(h, 3);
    const rec = await runIncident(h.ctx);
    expect(rec.status).toBe('resolved');
    const order = methods(h);
    expect(order.slice(0, 4)).toEqual(['fence:powerOff', 'updateService', 'updateService', 'updateService']);
    const puts = h.nova.mutating('updateService').map((c) => c.args);
    // The force-down first; the disable and the spare's enable both need only it, and go out side by side.
    expect(puts[0]).toEqual(['svc-cmp1', { forcedDown: true }]);
    expect(puts.slice(1)).toEqual(expect.arrayContaining([
      ['svc-cmp1', { status: 'disabled', disabledReason: expect.stringMatching(/^cmpha incident inc-1 \d{4}-\d\d-\d\dT[\d:.]+Z$/) }],
      ['svc-spare1', { status: 'enabled' }],
    ]));
    expect(puts).toHaveLength(3);
    expect(order.slice(4)).toEqual(['evacuate', 'evacuate', 'evacuate']);
    for (const id of ['s0', 's1', 's2']) {
      expect(h.nova.evacuateCount(id)).toBe(1);
      expect(h.nova.servers.get(id)!.host).toBe('spare1');
    }
    const inc = (await h.store.get('inc-1'))!;
    expect(inc.spares).toEqual([{ host: 'spare1', serverIds: ['s0', 's1', 's2'] }]);
    expect(inc.instances.every((e) => e.state === 'verified' && e.target === 'spare1')).toBe(true);
    expect(inc.failoverMs).toBeGreaterThanOrEqual(5000);
    expect(h.notifier.events.map((e) => [e.type, e.severity])).toEqual([['incident-opened', 'warning'], ['incident-resolved', 'info']]);
    expect(inc.deliveries.map((d) => d.event)).toEqual(['incident-opened', 'incident-resolved']);
    expect(await h.store.hasOpenIncident('cmp1')).toBe(false);
  });

  it('counts into the real metrics registry', async () => {
    const { createMetrics } = await import('../../../src/metrics/metrics.js');
    const m = createMetrics();
    const h = makeHarness(redis);
    await incident(h, 3);
    m.incidentsOpen.inc();
    await runIncident({ ...h.ctx, metrics: m });
    const text = await m.registry.metrics();
    expect(text).toMatch(/cmpha_incidents_closed_total\{outcome="resolved"\} 1/);
    expect(text).toMatch(/cmpha_evacuations_total\{result="ok"\} 3/);
    expect(text).toMatch(/cmpha_fence_attempts_total\{driver="redfish"\} 1/);
    expect(text).toMatch(/cmpha_incidents_open 0/);
    expect(text).toMatch(/cmpha_failover_duration_seconds_count 1/);
  });

  it('reads the hosts and the spare\'s capacity once, beside the fence: after it, the force-down is one call and no list is read twice', async () => {
    const h = makeHarness(redis);
    await incident(h, 3);
    expect(await prepareIncident(h.ctx)).toMatchObject({ kind: 'evacuate' });
    const seq = h.nova.calls.map((c) => c.method);
    const powerOff = seq.indexOf('fence:powerOff');
    const confirmed = seq.lastIndexOf('fence:status');
    // Read beside the fence (before the power-off went out), never again before the evacuations.
    expect(seq.filter((m) => m === 'listComputeServices')).toHaveLength(1);
    expect(seq.filter((m) => m === 'listHypervisors')).toHaveLength(1);
    expect(seq.indexOf('listComputeServices')).toBeLessThan(powerOff);
    // Nothing changes in the cloud before the power reads back off; the force-down is the next call to Nova after it.
    expect(seq.indexOf('updateService')).toBeGreaterThan(confirmed);
    expect(seq.slice(confirmed + 1).filter((m) => !m.startsWith('fence:'))[0]).toBe('updateService');
    expect(h.nova.mutating('updateService')[0]!.args).toEqual(['svc-cmp1', { forcedDown: true }]);
  });

  it('a failed read of the hosts beside the fence fails the attempt after the fence, and changes nothing in the cloud', async () => {
    const h = makeHarness(redis);
    await incident(h, 2);
    // Nova's list of hosts fails once.
    const compute = Object.create(h.ctx.compute) as typeof h.ctx.compute;
    let failed = false;
    compute.hosts = async (opts) => {
      if (!failed) { failed = true; throw new CmphaError('nova_unavailable', 'Nova answered 503', { retryable: true }); }
      return h.ctx.compute.hosts(opts);
    };
    const ctx = { ...h.ctx, compute };
    await expect(prepareIncident(ctx)).rejects.toMatchObject({ code: 'nova_unavailable' });
    expect(h.nova.calls.filter((c) => c.method === 'fence:powerOff')).toHaveLength(1);
    expect(h.nova.mutating('updateService')).toEqual([]);
    // The retry goes on from the recorded fence.
    expect(await prepareIncident(ctx)).toMatchObject({ kind: 'evacuate' });
    expect(h.nova.calls.filter((c) => c.method === 'fence:powerOff')).toHaveLength(1);
    expect(h.nova.mutating('updateService')[0]!.args).toEqual(['svc-cmp1', { forcedDown: true }]);
  });

  it('does no harm when everything runs a second time', async () => {
    const h = makeHarness(redis);
    await incident(h, 2);
    const first = await prepareIncident(h.ctx);
    const before = h.nova.mutating().length;
    const second = await prepareIncident(h.ctx);
    expect(second).toEqual(first);
    expect(h.nova.mutating().length).toBe(before);
    expect(h.nova.calls.filter((c) => c.method === 'fence:powerOff')).toHaveLength(1);
    expect(h.notifier.events.filter((e) => e.type === 'incident-opened')).toHaveLength(1);
  });

  it('never evacuates a host without fencing, and says why', async () => {
    const h = makeHarness(redis);
    await incident(h, 2);
    const rec = await runIncident({ ...h.ctx, fenceDriverFor: () => null });
    expect(rec).toMatchObject({ status: 'failed', error: { code: 'fence_not_configured' } });
    expect(h.nova.mutating()).toEqual([]);
    expect(h.notifier.events.at(-1)).toMatchObject({ type: 'incident-failed', severity: 'critical' });
  });

  it('stops after a failed fence: no force-down, no evacuate, a critical fence-failed notice; the incident waits for an operator', async () => {
    const h = makeHarness(redis, { fencing: { timeoutMs: 200 } });
    await incident(h, 2);
    h.bmc.mode = 'stuck';
    const rec = await runIncident(h.ctx);
    expect(rec.status).toBe('awaiting_fence');
    expect(rec.error).toMatchObject({ code: 'fence_timeout', message: expect.stringMatching(/still reads on.*nothing was forced down or evacuated/) });
    expect(h.nova.mutating()).toEqual([]);
    expect(h.notifier.events.at(-1)).toMatchObject({ type: 'fence-failed', severity: 'critical' });
    expect(await h.store.hasOpenIncident('cmp1')).toBe(true);
  });

  it('aborts when the host answers again before fencing', async () => {
    const h = makeHarness(redis);
    await incident(h, 1);
    h.live.alive = true;
    const rec = await runIncident(h.ctx);
    expect(rec.status).toBe('aborted');
    expect(h.nova.calls.filter((c) => c.method.startsWith('fence:'))).toEqual([]);
    expect(h.nova.mutating()).toEqual([]);
    expect(h.notifier.events.at(-1)).toMatchObject({ type: 'incident-aborted' });
  });

  it('says loudly that nothing was fenced with the noop driver, and refuses it unless allowed', async () => {
    const refused = makeHarness(redis);
    await incident(refused, 1);
    const noop = new FakeBmc(refused.nova, 'noop');
    expect(await fenceStep({ ...refused.ctx, fenceDriverFor: () => noop })).toMatchObject({ kind: 'fail', code: 'fence_unfenced_refused' });

    const h = makeHarness(redis, { fencing: { allowUnfencedEvacuation: true } });
    await incident(h, 1);
    const rec = await runIncident({ ...h.ctx, fenceDriverFor: () => new FakeBmc(h.nova, 'noop') });
    expect(rec.status).toBe('resolved');
    expect(rec.fence).toMatchObject({ unfenced: true });
    const tl = (await h.store.get('inc-1'))!.timeline;
    expect(tl.some((t) => t.level === 'critical' && /NOTHING WAS FENCED/.test(t.message))).toBe(true);
  });

  it('skips force-down and disable already done, and refuses to disable before forcing down', async () => {
    const h = makeHarness(redis);
    await incident(h, 0);
    await expect(forceDownStep(h.ctx)).rejects.toThrow(/no fence record/);
    await fenceStep(h.ctx);
    await expect(disableStep(h.ctx)).rejects.toThrow(/before it is forced down/);
    expect((await forceDownStep(h.ctx)).kind).toBe('done');
    expect((await forceDownStep(h.ctx)).kind).toBe('skip');
    expect((await disableStep(h.ctx)).kind).toBe('done');
    expect((await disableStep(h.ctx)).kind).toBe('skip');
    expect(h.nova.mutating()).toHaveLength(2);
  });

  it('resolves an empty host and reports servers it left in place', async () => {
    const h = makeHarness(redis);
    await incident(h, 1);
    Object.assign(h.nova.servers.get('s0')!, { status: 'SHUTOFF', vmState: 'stopped' });
    const rec = await runIncident(h.ctx);
    expect(rec.status).toBe('resolved');
    expect(h.nova.mutating('evacuate')).toEqual([]);
    const inc = (await h.store.get('inc-1'))!;
    expect(inc.instances[0]).toMatchObject({ state: 'skipped', skipReason: 'status SHUTOFF is not one of ACTIVE, ERROR' });
  });

  it('counts servers left in place in cmpha_evacuations_total{result="skipped"}, once each', async () => {
    const h = makeHarness(redis);
    await incident(h, 3);
    Object.assign(h.nova.servers.get('s0')!, { status: 'SHUTOFF', vmState: 'stopped' });
    Object.assign(h.nova.servers.get('s2')!, { status: 'SHUTOFF', vmState: 'stopped' });
    const registry = new Registry();
    const ctx = { ...h.ctx, metrics: createMetrics(registry) };
    const rec = await runIncident(ctx);
    expect(rec.status).toBe('resolved');
    await inventoryStep(ctx);
    const text = await registry.metrics();
    expect(text).toContain('cmpha_evacuations_total{result="skipped"} 2');
    expect(text).toMatch(/^cmpha_last_failover_info\{host="cmp1",outcome="resolved"\} 1$/m);
  });

  it('ends partial when some servers fail, and lists them in the notice', async () => {
    const h = makeHarness(redis);
    await incident(h, 3);
    h.nova.onEvacuate = (id) => (id === 's1' ? { error: new CmphaError('nova_conflict', "Cannot 'evacuate' instance s1 while it is in vm_state error"), accept: false } : undefined);
    const rec = await runIncident(h.ctx);
    expect(rec.status).toBe('partial');
    const ev = h.notifier.events.at(-1)!;
    expect(ev).toMatchObject({ type: 'incident-partial', severity: 'critical' });
    expect(ev.instances!.find((i) => i.id === 's1')).toMatchObject({ state: 'failed', error: expect.stringMatching(/vm_state error/) });
    expect(ev.details).toMatch(/vm1 \(s1\)/);
  });

  it('outcome: resolved, partial, failed', () => {
    const e = (state: string) => ({ state }) as never;
    expect(outcomeOf([e('verified'), e('skipped'), e('deleted')]).status).toBe('resolved');
    expect(outcomeOf([e('verified'), e('failed')]).status).toBe('partial');
    expect(outcomeOf([e('failed'), e('skipped')]).status).toBe('failed');
    expect(outcomeOf([e('verified'), e('evacuated')]).status).toBe('partial');
    expect(outcomeOf([]).status).toBe('resolved');
  });

  it('outcome: a server excluded by policy is never a failure; a server left for any other reason makes the incident partial', () => {
    const e = (state: string, leftBy?: 'policy' | 'cloud') => ({ state, ...(leftBy ? { leftBy } : {}) }) as never;
    // Left by the operator's choice: the evacuability policy, or [evacuation] states.
    expect(outcomeOf([e('verified'), e('excluded'), e('skipped', 'policy')])).toMatchObject({ status: 'resolved', excluded: 1, skipped: 1 });
    expect(outcomeOf([e('excluded'), e('excluded')]).status).toBe('resolved');
    // Left because the cloud cannot move it (a shelved server): not recovered.
    expect(outcomeOf([e('verified'), e('skipped', 'cloud')])).toMatchObject({ status: 'partial', stranded: 1 });
    expect(outcomeOf([e('excluded'), e('skipped', 'cloud')]).status).toBe('partial');
  });

  it('outcome: a degraded server (moved, network not back) is never resolved', () => {
    const e = (state: string) => ({ state }) as never;
    expect(outcomeOf([e('verified'), e('degraded')])).toMatchObject({ status: 'partial', verified: 1, degraded: 1 });
    expect(outcomeOf([e('degraded'), e('skipped')]).status).toBe('partial');
    expect(outcomeOf([e('degraded'), e('failed')]).status).toBe('partial');
  });
});

describe('spare choice', () => {
  async function prepared(h: Harness, servers: Array<{ vcpus: number }>, spares: Array<{ host: string; zone?: string; vcpus: number; state?: 'up' | 'down'; usage?: boolean }>) {
    h.nova.addHost('cmp1', { zone: 'az1' });
    for (const s of spares) {
      h.nova.addHost(s.host, { zone: s.zone ?? 'az1', status: 'disabled', disabledReason: 'down_prepare', vcpus: s.vcpus, state: s.state ?? 'up', usage: s.usage ?? true });
    }
    servers.forEach((s, i) => h.nova.addServer({ id: `s${i}`, name: `vm${i}`, host: 'cmp1', flavor: { vcpus: s.vcpus, ramMb: 1024 } }));
    await h.store.create({ id: 'inc-1', host: 'cmp1', failureStartedAt: 0, evidence: {} });
    await fenceStep(h.ctx);
    await forceDownStep(h.ctx);
    await inventoryStep(h.ctx);
    await spareStep(h.ctx);
    return (await h.store.get('inc-1'))!;
  }

  it('picks an up spare in the same zone with room, and records it for retries', async () => {
    const h = makeHarness(redis);
    const inc = await prepared(h, [{ vcpus: 4 }, { vcpus: 4 }], [
      { host: 'other-zone', zone: 'az2', vcpus: 64 }, { host: 'dead', vcpus: 64, state: 'down' }, { host: 'small', vcpus: 4 }, { host: 'good', vcpus: 16 },
    ]);
    expect(inc.spares).toEqual([{ host: 'good', serverIds: ['s0', 's1'] }]);
    expect(inc.timeline.map((t) => t.message).join('\n')).toMatch(/other-zone \(in zone az2, not az1\).*dead \(not up\)/);
    expect(h.nova.services.get('good')!.status).toBe('enabled');
    h.nova.services.get('small')!.status = 'disabled';
    await spareStep(h.ctx);
    expect((await h.store.getRecord('inc-1'))!.spares).toEqual([{ host: 'good', serverIds: ['s0', 's1'] }]);
    expect(h.nova.mutating('updateService').filter((c) => c.args[0] === 'svc-good')).toHaveLength(1);
  });

  it('falls back to flavor sums when the hypervisor reports no usage', async () => {
    const h = makeHarness(redis);
    h.nova.addServer({ id: 'resident', host: 'spare1', flavor: { vcpus: 6, ramMb: 1024 } });
    const inc = await prepared(h, [{ vcpus: 4 }], [{ host: 'spare1', vcpus: 8, usage: false }]);
    expect(inc.spares).toEqual([]);
    expect(inc.instances[0]!.target).toBeNull();
    expect(inc.timeline.map((t) => t.message).join('\n')).toMatch(/no spare fits.*scheduler chooses/);
  });

  it('moves what fits to a small spare and leaves the rest to the scheduler', async () => {
    const h = makeHarness(redis);
    const inc = await prepared(h, [{ vcpus: 4 }, { vcpus: 4 }, { vcpus: 4 }], [{ host: 'spare1', vcpus: 8 }]);
    expect(inc.spares).toEqual([{ host: 'spare1', serverIds: ['s0', 's1'] }]);
    expect(inc.instances.map((e) => e.target)).toEqual(['spare1', 'spare1', null]);
  });

  it('two incidents planning at the same time get different spares', async () => {
    const h = makeHarness(redis);
    h.nova.addHost('cmp1').addHost('cmp2');
    for (const sp of ['spareA', 'spareB']) h.nova.addHost(sp, { status: 'disabled', disabledReason: 'down_prepare' });
    h.nova.addServer({ id: 'x1', host: 'cmp1' }).addServer({ id: 'x2', host: 'cmp2' });
    const ctxs = ['cmp1', 'cmp2'].map((host) => ({ ...h.ctx, incidentId: `inc-${host}` }));
    for (const [i, c] of ctxs.entries()) {
      await h.store.create({ id: c.incidentId, host: `cmp${i + 1}`, failureStartedAt: 0, evidence: {} });
      await fenceStep({ ...c, fenceDriverFor: () => new FakeBmc(h.nova) });
      await forceDownStep(c);
      await inventoryStep(c);
    }
    await Promise.all(ctxs.map((c) => spareStep(c)));
    const chosen = await Promise.all(ctxs.map(async (c) => (await h.store.getRecord(c.incidentId))!.spares!.map((s) => s.host)));
    expect(chosen.flat().sort()).toEqual(['spareA', 'spareB']);
  });

  it('never gives one spare to two incidents', async () => {
    const h = makeHarness(redis);
    await h.store.claimSpare('spare1', 'someone-else', 60_000);
    const inc = await prepared(h, [{ vcpus: 1 }], [{ host: 'spare1', vcpus: 8 }]);
    expect(inc.spares).toEqual([]);
    expect(inc.timeline.map((t) => t.message).join('\n')).toMatch(/already taken by incident someone-else/);
  });
});
