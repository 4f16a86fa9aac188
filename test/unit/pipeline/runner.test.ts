import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { fenceHost } from '../../../src/fencing/fence-host.js';
import { assertFenced } from '../../../src/incidents/fence-guard.js';
import { TRANSITIONS } from '../../../src/incidents/transitions.js';
import { confirmFence } from '../../../src/pipeline/confirm-fence.js';
import { recordStopped, runFinalize, runNetwork, runPrepare, runServer } from '../../../src/pipeline/runner.js';
import { runIncident } from '../../helpers/run-incident.js';
import { fenceStep } from '../../../src/pipeline/steps/fence.js';
import { CmphaError } from '../../../src/shared/errors.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { captureLogger } from '../../helpers/capture-logger.js';
import { makeHarness, newRedis, type Harness } from './harness.js';

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

async function incident(h: Harness, servers: number): Promise<void> {
  h.nova.addHost('cmp1').addHost('spare1', { status: 'disabled', disabledReason: 'down_prepare reserved' });
  for (let i = 0; i < servers; i++) h.nova.addServer({ id: `s${i}`, name: `vm${i}`, host: 'cmp1' });
  h.nova.markDown('cmp1');
  await h.store.create({ id: 'inc-1', host: 'cmp1', failureStartedAt: Date.now() - 5000, evidence: {} });
}

const timeline = async (h: Harness) => (await h.store.get('inc-1'))!.timeline.map((t) => `${t.level} ${t.step}: ${t.message}`).join('\n');
const powerOffs = (h: Harness) => h.nova.calls.filter((c) => c.method === 'fence:powerOff').length;

describe('the incident state machine', () => {
  it('refuses an illegal transition and names both states', async () => {
    const h = makeHarness(redis);
    await incident(h, 0);
    await expect(h.store.update('inc-1', (r) => ({ ...r, status: 'evacuating' }))).rejects.toMatchObject({
      code: 'incident_illegal_transition', message: expect.stringMatching(/from open to evacuating/),
    });
    await expect(h.store.update('inc-1', (r) => ({ ...r, status: 'fenced' }), 'fence_confirmed')).rejects.toThrow(/from open to fenced on fence_confirmed/);
    expect((await h.store.getRecord('inc-1'))!.status).toBe('open');
  });

  it('has no way out of a terminal status, and only a confirmation, a retry of the fence or giving up out of awaiting_fence', () => {
    for (const s of ['resolved', 'partial', 'failed', 'aborted'] as const) expect(TRANSITIONS[s]).toEqual({});
    expect(Object.values(TRANSITIONS.awaiting_fence).sort()).toEqual(['aborted', 'failed', 'fenced', 'fencing']);
    expect(TRANSITIONS.awaiting_fence.fence_confirmed).toBe('fenced');
    // A retry goes back to fencing, never past it: the same proof is needed.
    expect(TRANSITIONS.awaiting_fence.fence_retry).toBe('fencing');
    // Nothing leads from before the fence straight to the evacuation.
    for (const s of ['open', 'fencing', 'awaiting_fence'] as const) expect(Object.values(TRANSITIONS[s])).not.toContain('evacuating');
  });
});

describe('the final-failure path', () => {
  it('a step that keeps failing: the incident closes failed with its code, "gave up after N attempt(s)", and pages', async () => {
    const h = makeHarness(redis);
    await incident(h, 1);
    h.nova.listServersOnHost = async () => { throw new CmphaError('nova_unavailable', 'Nova answered 503', { retryable: true }); };
    const rec = await runIncident(h.ctx, { attempts: 3, backoffMs: 1 });
    expect(rec).toMatchObject({ status: 'failed', error: { code: 'nova_unavailable', message: expect.stringMatching(/gave up after 3 attempt\(s\): Nova answered 503/) } });
    expect(h.notifier.events.at(-1)).toMatchObject({ type: 'incident-failed', severity: 'critical' });
    expect(h.nova.mutating('evacuate')).toEqual([]);
  });

  it('an unexpected error is internal_error and is not retried', async () => {
    const h = makeHarness(redis);
    await incident(h, 1);
    let calls = 0;
    h.nova.listServersOnHost = async () => { calls += 1; throw new TypeError('cannot read properties of undefined'); };
    await expect(runPrepare(h.ctx, { number: 1, max: 6 })).rejects.toMatchObject({ code: 'gave_up' });
    expect(calls).toBe(1);
    expect(await h.store.getRecord('inc-1')).toMatchObject({ status: 'failed', error: { code: 'internal_error', message: expect.stringMatching(/gave up after 1 attempt/) } });
    expect(h.notifier.events.at(-1)).toMatchObject({ type: 'incident-failed', severity: 'critical' });
  });

  it('a retryable failure before the last attempt is thrown for the queue to retry, and records nothing', async () => {
    const h = makeHarness(redis);
    await incident(h, 1);
    h.nova.listServersOnHost = async () => { throw new CmphaError('nova_unavailable', '503', { retryable: true }); };
    await expect(runPrepare(h.ctx, { number: 1, max: 2 })).rejects.toMatchObject({ code: 'nova_unavailable' });
    expect((await h.store.getRecord('inc-1'))!.status).not.toBe('failed');
  });

  it('one server that gives up is recorded failed with "gave up after"; the others are recovered, the incident ends partial', async () => {
    const h = makeHarness(redis);
    await incident(h, 2);
    const prepared = await runPrepare(h.ctx, { number: 1, max: 1 });
    expect(prepared).toMatchObject({ kind: 'evacuate' });
    const getServer = h.nova.getServer.bind(h.nova);
    h.nova.getServer = async (id) => {
      if (id === 's0') throw new CmphaError('nova_unavailable', 'Nova answered 503', { retryable: true });
      return getServer(id);
    };
    await expect(runServer(h.ctx, { serverId: 's0' }, { number: 4, max: 4 })).rejects.toMatchObject({ code: 'gave_up' });
    await runServer(h.ctx, { serverId: 's1' }, { number: 1, max: 4 });
    await runNetwork(h.ctx, { serverId: 's1' }, { number: 1, max: 4 });
    const rec = await runFinalize(h.ctx, { number: 1, max: 4 });
    expect(rec.status).toBe('partial');
    const s0 = (await h.store.getInstance('inc-1', 's0'))!;
    expect(s0).toMatchObject({ state: 'failed', error: 'Nova answered 503' });
    expect(await timeline(h)).toMatch(/critical evacuate: vm0: gave up after 4 attempt\(s\): Nova answered 503/);
    expect(h.notifier.events.at(-1)).toMatchObject({ type: 'incident-partial', severity: 'critical' });
  });

  it('a job that stopped outside the runner still closes its incident as job_failed and pages', async () => {
    const h = makeHarness(redis);
    await incident(h, 1);
    await recordStopped(h.ctx, 'job stalled more than allowable limit');
    expect(await h.store.getRecord('inc-1')).toMatchObject({ status: 'failed', error: { code: 'job_failed', message: expect.stringMatching(/stopped: job stalled/) } });
    expect(h.notifier.events.at(-1)).toMatchObject({ type: 'incident-failed', severity: 'critical' });
  });
});

describe('the fence guard', () => {
  it('asks the leadership hook before any mutation: a deposed controller changes nothing', async () => {
    const h = makeHarness(redis);
    await incident(h, 2);
    let leading = true;
    const ctx = {
      ...h.ctx,
      leadership: { async assertLeading() { if (!leading) throw new CmphaError('deposed', 'another controller leads now'); } },
    };
    await fenceStep(ctx);
    leading = false;
    await expect(assertFenced(ctx, 'force down the host')).rejects.toMatchObject({ code: 'deposed', retryable: false });
    await expect(runIncident(ctx, { attempts: 3, backoffMs: 1 })).rejects.toMatchObject({ code: 'deposed' });
    expect(h.nova.mutating()).toEqual([]);
    // Nor does it write the incident's end: that is the leader's to do.
    expect(await h.store.getRecord('inc-1')).toMatchObject({ status: 'fenced' });
    expect(h.notifier.events.map((e) => e.type)).not.toContain('incident-failed');
  });
});

describe('a closed incident and a deposed controller', () => {
  /** A fenced cmp1 whose server s0 runs ACTIVE on spare1, its address to be checked: the network phase is next. */
  async function activeOnSpare(h: Harness): Promise<void> {
    await incident(h, 1);
    await h.store.transition('inc-1', 'fenced', () => ({ fence: { driver: 'redfish', target: 'bmc', unfenced: false, alreadyOff: false, durationMs: 1, at: Date.now() } }));
    await h.store.transition('inc-1', 'evacuation_started');
    await h.store.addInstances('inc-1', [{ id: 's0', name: 'vm0', projectId: 'p', userId: 'u', source: 'cmp1', target: 'spare1', priority: 0, watch: [{ ip: '198.18.0.10' }] }]);
    await h.store.updateInstance('inc-1', 's0', 'already_moving', { acceptedAt: Date.now() });
    await h.store.updateInstance('inc-1', 's0', 'running_elsewhere', { activeAt: Date.now(), evacuationMs: 1 });
  }

  it('a step that writes to an incident closed under it is refused, says so in the log, and adds nothing to its record', async () => {
    const h = makeHarness(redis);
    await activeOnSpare(h);
    const { logger, lines } = captureLogger();
    // While the network phase waits for the address, another controller closes the incident.
    const probe = async (ips: readonly string[]) => {
      await h.store.update('inc-1', (r) => ({ ...r, status: 'partial' }), 'partial', { timeline: [{ step: 'close', level: 'critical', message: 'incident partial' }] });
      return new Map(ips.map((ip) => [ip, 'alive' as const]));
    };
    await expect(runNetwork({ ...h.ctx, probe, logger }, { serverId: 's0' }, { number: 1, max: 3 })).rejects.toMatchObject({ code: 'gave_up' });
    const inc = (await h.store.get('inc-1'))!;
    expect(inc.timeline.at(-1)).toMatchObject({ step: 'close', at: inc.closedAt });
    expect(inc.instances[0]).toMatchObject({ state: 'evacuated' });
    expect(inc.instances[0]!.verifiedAt).toBeUndefined();
    const refusal = lines.map((l) => JSON.parse(l) as { msg: string; err?: string }).find((l) => /stopped: the incident is closed/.test(l.msg));
    expect(refusal).toMatchObject({ msg: 'network verification stopped: the incident is closed and its record takes no more entries', err: expect.stringMatching(/network_verified for server s0 refused/) });
    // Nothing was paged for it either: the phase that was refused is not a failure of the incident.
    expect(h.notifier.events).toEqual([]);
  });

  it("a deposed controller's step writes nothing into the record, the server's progress included", async () => {
    const h = makeHarness(redis);
    await activeOnSpare(h);
    let leading = true;
    const leadership = { async assertLeading() { if (!leading) throw new CmphaError('deposed', 'another controller leads now'); } };
    // Deposed while the network phase waits for the address (the process was frozen past its lease).
    const probe = async (ips: readonly string[]) => {
      leading = false;
      return new Map(ips.map((ip) => [ip, 'alive' as const]));
    };
    const before = await h.store.get('inc-1');
    await expect(runNetwork({ ...h.ctx, store: h.store.forRecovery(leadership), leadership, probe }, { serverId: 's0' }, { number: 1, max: 3 }))
      .rejects.toMatchObject({ code: 'deposed' });
    expect(await h.store.get('inc-1')).toEqual(before);
  });
});

describe('one incident per failure, and an account of every power-off', () => {
  it('after a failed fence, a restart sends no second power-off and no second page, and the host opens no second incident', async () => {
    const h = makeHarness(redis, { fencing: { timeoutMs: 150 } });
    await incident(h, 1);
    h.bmc.mode = 'stuck';
    expect((await runIncident(h.ctx)).status).toBe('awaiting_fence');
    const sent = powerOffs(h);
    expect(sent).toBeGreaterThan(0);
    // The controller restarts and resumes every open incident.
    expect((await runIncident(h.ctx)).status).toBe('awaiting_fence');
    expect(powerOffs(h)).toBe(sent);
    expect(h.notifier.events.filter((e) => e.type === 'fence-failed')).toHaveLength(1);
    expect(await h.store.create({ id: 'inc-2', host: 'cmp1', failureStartedAt: Date.now(), evidence: {} })).toMatchObject({ created: false, reason: 'host-busy', existingId: 'inc-1' });
  });

  it('a power-off sent by a run that was killed is in the timeline, and the next run says so', async () => {
    const h = makeHarness(redis);
    await incident(h, 0);
    // The process dies right after the BMC accepted the power-off, before anything was recorded.
    const killed = async (driver: Parameters<typeof fenceHost>[0]) => { await driver.powerOff(AbortSignal.timeout(1000)); throw new Error('SIGKILL'); };
    await expect(fenceStep({ ...h.ctx, fenceHost: killed })).rejects.toThrow('SIGKILL');
    expect(await timeline(h)).toMatch(/fencing cmp1 through redfish BMC bmc.test: a power-off is sent unless the power already reads off/);
    expect((await fenceStep(h.ctx)).kind).toBe('done');
    const tl = await timeline(h);
    expect(tl).toMatch(/warning fence: an earlier fence attempt began at .* and never finished .* may have sent a power-off/);
    expect(tl).toMatch(/reads back off \(it was already off: most likely the power-off of the interrupted attempt/);
  });

  it('a host that answers again just after the last check is fenced anyway, and the timeline says so and why', async () => {
    const h = makeHarness(redis);
    await incident(h, 0);
    // The re-check before fencing finds it silent; it answers from the next look on.
    let looks = 0;
    const ctx = { ...h.ctx, isHostAlive: async () => ++looks > 1 };
    expect((await runIncident(ctx)).status).toBe('resolved');
    expect(powerOffs(h)).toBe(1);
    expect(await timeline(h)).toMatch(/warning fence: cmp1 answered again while it was being fenced.*fenced anyway: the failure was confirmed/);
  });

  it('a fenced host powered on again during the evacuation raises a critical alert', async () => {
    const h = makeHarness(redis);
    await incident(h, 2);
    h.nova.onEvacuate = () => { h.bmc.state = 'on'; return undefined; };
    await runIncident(h.ctx);
    expect(h.notifier.events.find((e) => e.type === 'fence-breached')).toMatchObject({ severity: 'critical', host: 'cmp1' });
    expect(await timeline(h)).toMatch(/critical fence: cmp1 was fenced at .* but its power now reads ON/);
  });
});

describe('operator fence confirmation', () => {
  it('is refused when no incident of the host waits for a fence', async () => {
    const h = makeHarness(redis);
    await expect(confirmFence(h.ctx, 'cmp1', { user: 'alice', note: '' })).rejects.toMatchObject({ code: 'no_fence_awaited', message: expect.stringMatching(/no open incident/) });
    await incident(h, 1);
    await expect(confirmFence(h.ctx, 'cmp1', { user: 'alice', note: '' })).rejects.toThrow(/its incident inc-1 is open/);
  });

  it('after every fence failed: nothing forced down; the confirmation is recorded, pages, and the recovery continues', async () => {
    const h = makeHarness(redis, { fencing: { timeoutMs: 150 } });
    await incident(h, 2);
    h.bmc.mode = 'error';
    expect((await runIncident(h.ctx)).status).toBe('awaiting_fence');
    expect(h.nova.mutating()).toEqual([]);
    expect(h.notifier.events.at(-1)).toMatchObject({ type: 'fence-failed', severity: 'critical' });

    const confirmed = await confirmFence(h.ctx, 'cmp1', { user: 'alice', note: 'PDU outlet 7 switched off' });
    expect(confirmed).toMatchObject({ status: 'fenced', fence: { driver: 'operator', confirmedBy: { user: 'alice', note: 'PDU outlet 7 switched off' } } });
    expect(h.notifier.events.at(-1)).toMatchObject({ type: 'fence-confirmed', severity: 'critical' });
    expect(await timeline(h)).toMatch(/critical fence: fence confirmed by alice at \d{4}-.*: "PDU outlet 7 switched off"/);

    const rec = await runIncident(h.ctx);
    expect(rec.status).toBe('resolved');
    for (const id of ['s0', 's1']) expect(h.nova.evacuateCount(id)).toBe(1);
    expect(h.nova.mutating('updateService')[0]!.args[1]).toEqual({ forcedDown: true });
  });
});

describe('the evacuation slot', () => {
  it('is released when Nova runs the server ACTIVE: a guest slow to answer does not hold back the next evacuation', async () => {
    const h = makeHarness(redis, { evacuation: { concurrency: 1, networkTimeoutMs: 10_000 } });
    h.nova.addHost('cmp1').addHost('spare1', { status: 'disabled', disabledReason: 'down_prepare reserved' });
    for (const i of [0, 1]) {
      h.nova.addServer({ id: `s${i}`, name: `vm${i}`, host: 'cmp1', addresses: [{ network: 'provider', addr: `198.18.7.${10 + i}`, version: 4, type: 'fixed' }] });
    }
    h.nova.markDown('cmp1');
    const evidence = { instances: { addresses: [0, 1].map((i) => ({ ip: `198.18.7.${10 + i}`, server: `vm${i}`, baseline: true })) } };
    await h.store.create({ id: 'inc-1', host: 'cmp1', failureStartedAt: Date.now() - 5000, evidence });
    // vm0's address answers only once vm1's evacuation has been requested: with the slot held for the network,
    // that would happen only after network_timeout, with vm0 degraded.
    let evacuationsWhenVm0Answered = -1;
    const probe = async (ips: readonly string[]) => new Map(ips.map((ip) => {
      const answers = ip.endsWith('.11') || h.nova.evacuateCount('s1') > 0;
      if (ip.endsWith('.10') && answers && evacuationsWhenVm0Answered < 0) evacuationsWhenVm0Answered = h.nova.evacuateCount('s1');
      return [ip, answers ? 'alive' : 'silent'] as const;
    }));
    const rec = await runIncident({ ...h.ctx, probe }, { attempts: 1 });
    expect(rec.status).toBe('resolved');
    expect(evacuationsWhenVm0Answered).toBe(1);
    const vm0 = (await h.store.getInstance('inc-1', 's0'))!;
    expect(vm0).toMatchObject({ state: 'verified', target: 'spare1' });
    expect(vm0.watch).toEqual([{ ip: '198.18.7.10' }]);
  }, 20_000);
});

describe('durations', () => {
  it('an evacuation is timed from Nova accepting it to the server ACTIVE, not from when the controller looked', async () => {
    const h = makeHarness(redis);
    await incident(h, 1);
    await runPrepare(h.ctx, { number: 1, max: 1 });
    // The controller that sent the evacuate is gone for a while; the next one looks 90 s later.
    const late = { ...h.ctx, clock: { now: () => Date.now() + 90_000 } };
    await runServer(late, { serverId: 's0' }, { number: 1, max: 1 });
    const entry = (await runNetwork(late, { serverId: 's0' }, { number: 1, max: 1 })).entry!;
    expect(entry.state).toBe('verified');
    expect(entry.evacuationMs).toBeLessThan(30_000);
    expect(entry.downtimeMs).toBeGreaterThanOrEqual(90_000);
  });
});
