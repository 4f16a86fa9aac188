import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestEvacuation } from '../../../src/evacuator/evacuate-server.js';
import { judge } from '../../../src/compute/nova/migrations.js';
import { verifyServer } from '../../../src/evacuator/verify-server.js';
import type { IncidentRecord } from '../../../src/incidents/types.js';
import type { Server } from '../../../src/openstack/types.js';
import { CmphaError } from '../../../src/shared/errors.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { moveServerStep } from '../../../src/pipeline/steps/evacuate.js';
import { verifyNetworkStep } from '../../../src/evacuator/verify-network.js';
import { evacuationDefaults, makeHarness, newRedis, type Harness } from '../pipeline/harness.js';

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

/** A dead, fenced, forced-down cmp1 with the given servers recorded on the incident. */
async function deadHost(ids: string[], target: string | null = 'spare1'): Promise<{ h: Harness; rec: IncidentRecord }> {
  const h = makeHarness(redis);
  h.nova.addHost('cmp1', { forcedDown: true, state: 'down' }).addHost('spare1');
  for (const id of ids) h.nova.addServer({ id, host: 'cmp1' });
  await h.store.open({ id: 'inc-1', host: 'cmp1', failureStartedAt: Date.now() - 1000, evidence: {} });
  await h.store.transition('inc-1', 'fenced', () => ({ fence: { driver: 'redfish', target: 'bmc', unfenced: false, alreadyOff: false, durationMs: 1, at: Date.now() } }));
  await h.store.transition('inc-1', 'evacuation_started');
  await h.store.addInstances('inc-1', ids.map((id) => ({ id, name: id, projectId: 'p', userId: 'u', source: 'cmp1', target, priority: 0 })));
  return { h, rec: (await h.store.getRecord('inc-1'))! };
}

describe('requestEvacuation', () => {
  it('sends one evacuate to the recorded target and records it before and after', async () => {
    const { h } = await deadHost(['a']);
    const entry = await requestEvacuation(h.ctx, 'a');
    expect(entry).toMatchObject({ state: 'evacuated', attempts: 1, target: 'spare1' });
    expect(entry.requestedAt).toBeLessThanOrEqual(entry.acceptedAt!);
    expect(h.nova.mutating('evacuate').map((c) => c.args)).toEqual([['a', 'spare1']]);
    // Harmless twice: a second run re-reads and sends nothing.
    await requestEvacuation(h.ctx, 'a');
    expect(h.nova.evacuateCount('a')).toBe(1);
  });

  it('reads the server and its migrations once when the gate admits the start at once; again when it held it', async () => {
    const reads = (h: Harness) => h.nova.calls.filter((c) => c.method === 'getServer' || c.method === 'listMigrations').length;
    const { h } = await deadHost(['a', 'b']);
    expect((await requestEvacuation(h.ctx, 'a')).state).toBe('evacuated');
    expect(reads(h)).toBe(2);
    // Held by the gate, during which someone else moved the server: the second look sees it and sends nothing.
    h.nova.addHost('elsewhere');
    const before = reads(h);
    const held = { acquire: async () => { h.nova.servers.get('b')!.host = 'elsewhere'; return { held: true, settle: async () => {} }; } };
    expect((await requestEvacuation({ ...h.ctx, gate: held }, 'b')).state).toBe('evacuated');
    expect(reads(h) - before).toBeGreaterThan(2);
    expect(h.nova.evacuateCount('b')).toBe(0);
    expect(h.nova.evacuateCount('a')).toBe(1);
  });

  it('does not evacuate a server that already left the host', async () => {
    const { h } = await deadHost(['a']);
    h.nova.addHost('elsewhere');
    h.nova.servers.get('a')!.host = 'elsewhere';
    expect((await requestEvacuation(h.ctx, 'a')).state).toBe('evacuated');
    expect(h.nova.evacuateCount('a')).toBe(0);
  });

  it('does not take a host Nova does not list as a compute service for proof that the server left', async () => {
    const { h } = await deadHost(['a']);
    h.nova.servers.get('a')!.host = '12345';
    await expect(requestEvacuation(h.ctx, 'a')).rejects.toMatchObject({ code: 'server_busy', retryable: true, message: expect.stringMatching(/"12345", which is not a nova-compute service/) });
    expect((await h.store.getInstance('inc-1', 'a'))!.state).toBe('pending');
  });

  it('does not evacuate while an evacuation of the server is in flight', async () => {
    const { h } = await deadHost(['a']);
    h.nova.migrations.push({ id: 'm1', instanceId: 'a', type: 'evacuation', status: 'pre-migrating', sourceCompute: 'cmp1', destCompute: 'x', createdAt: new Date(), updatedAt: null });
    expect((await requestEvacuation(h.ctx, 'a')).state).toBe('evacuated');
    expect(h.nova.evacuateCount('a')).toBe(0);
    const tl = (await h.store.get('inc-1'))!.timeline.map((t) => t.message).join('\n');
    expect(tl).toMatch(/already in flight \(migration m1, pre-migrating\)/);
  });

  it('waits (retryable) while the server has a task state, without posting', async () => {
    const { h } = await deadHost(['a']);
    h.nova.servers.get('a')!.taskState = 'powering-off';
    const err = await requestEvacuation(h.ctx, 'a').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CmphaError);
    expect(err).toMatchObject({ code: 'server_busy', retryable: true });
    expect(h.nova.evacuateCount('a')).toBe(0);
  });

  it('records a server deleted mid-incident as deleted, not as an error', async () => {
    const { h } = await deadHost(['a']);
    h.nova.servers.delete('a');
    expect((await requestEvacuation(h.ctx, 'a'))).toMatchObject({ state: 'deleted' });
    expect(h.nova.evacuateCount('a')).toBe(0);
  });

  it('after a timeout whose POST Nova accepted, re-reads and never posts again', async () => {
    const { h } = await deadHost(['a']);
    h.nova.onEvacuate = () => ({ error: new CmphaError('nova_evacuate_outcome_unknown', 'timed out'), accept: true });
    expect((await requestEvacuation(h.ctx, 'a')).state).toBe('evacuated');
    expect(h.nova.evacuateCount('a')).toBe(1);
  });

  it('after a crash between "requested" and the POST, posts once Nova shows no trace', async () => {
    const { h } = await deadHost(['a']);
    await h.store.updateInstance('inc-1', 'a', 'evacuate_requested', { attempts: 1, requestedAt: Date.now(), lastRequestAt: Date.now() });
    const entry = await requestEvacuation(h.ctx, 'a');
    expect(entry).toMatchObject({ state: 'evacuated', attempts: 2 });
    expect(h.nova.evacuateCount('a')).toBe(1);
  });

  it('answers "still in use" by forcing the host down again, then evacuates', async () => {
    const { h } = await deadHost(['a']);
    const svc = h.nova.services.get('cmp1')!;
    // Only the force-down was lost; the disable for this incident stands and is not sent again.
    svc.status = 'disabled';
    svc.disabledReason = `${evacuationDefaults.disabledReasonPrefix} incident inc-1 ${new Date().toISOString()}`;
    svc.forcedDown = false;
    svc.state = 'up';
    expect((await moveServerStep(h.ctx, { serverId: 'a' })).entry.state).toBe('evacuated');
    const order = h.nova.mutating().map((c) => c.method);
    expect(order).toEqual(['evacuate', 'updateService', 'evacuate']);
    expect(h.nova.mutating('updateService')[0]!.args[1]).toEqual({ forcedDown: true });
  });

  it('answers "still in use" after a lost force-down and disable by redoing both, in that order', async () => {
    const { h } = await deadHost(['a']);
    const svc = h.nova.services.get('cmp1')!;
    svc.forcedDown = false;
    svc.state = 'up';
    svc.status = 'enabled';
    svc.disabledReason = null;
    expect((await moveServerStep(h.ctx, { serverId: 'a' })).entry.state).toBe('evacuated');
    expect(h.nova.mutating().map((c) => c.method)).toEqual(['evacuate', 'updateService', 'updateService', 'evacuate']);
    expect(h.nova.mutating('updateService').map((c) => c.args[1])).toEqual([
      { forcedDown: true },
      { status: 'disabled', disabledReason: expect.stringMatching(/ incident inc-1 /) },
    ]);
    expect(svc).toMatchObject({ forcedDown: true, status: 'disabled' });
  });

  it('when the spare turns out full in Nova\'s scheduler, evacuates once more without a target, and says so', async () => {
    const { h } = await deadHost(['a']);
    h.nova.addHost('cmp2');
    h.nova.fullHosts.add('spare1');
    await moveServerStep(h.ctx, { serverId: 'a' });
    const { entry } = await verifyNetworkStep(h.ctx, { serverId: 'a' });
    expect(entry).toMatchObject({ state: 'verified', retargetedFrom: 'spare1' });
    expect(h.nova.mutating('evacuate').map((c) => c.args)).toEqual([['a', 'spare1'], ['a', undefined]]);
    expect((await h.nova.getServer('a'))!.host).toBe('cmp2');
    const timeline = (await h.store.get('inc-1'))!.timeline.map((t) => t.message);
    expect(timeline).toContainEqual(expect.stringMatching(/a: evacuation to spare1 failed \(evacuation migration error\); evacuating it again without a target/));
  });

  it('marks the server failed when Nova refuses for good', async () => {
    const { h } = await deadHost(['a'], 'nosuchhost');
    const entry = await requestEvacuation(h.ctx, 'a');
    expect(entry).toMatchObject({ state: 'failed', error: 'Compute host nosuchhost not found.' });
  });

  it('refuses to evacuate for an incident whose host was never fenced', async () => {
    const h = makeHarness(redis);
    h.nova.addHost('cmp1', { forcedDown: true, state: 'down' }).addServer({ id: 'a', host: 'cmp1' });
    await h.store.open({ id: 'inc-1', host: 'cmp1', failureStartedAt: 0, evidence: {} });
    await h.store.addInstances('inc-1', [{ id: 'a', name: 'a', projectId: 'p', userId: 'u', source: 'cmp1', target: null, priority: 0 }]);
    await expect(requestEvacuation(h.ctx, 'a')).rejects.toMatchObject({ code: 'not_fenced' });
    expect(h.nova.evacuateCount('a')).toBe(0);
  });
});

describe('verify', () => {
  const hosts = new Set(['cmp1', 'spare1']);
  const s = (o: Partial<Server>): Server => ({
    id: 'a', name: 'a', status: 'ACTIVE', taskState: null, vmState: 'active', host: 'cmp1', addresses: [], metadata: {},
    userId: 'u', projectId: 'p', flavor: {}, ...o,
  });
  it('does not take task_state none on the source host as finished', () => {
    expect(judge(s({}), 'cmp1', undefined, hosts).kind).toBe('waiting');
    expect(judge(s({}), 'cmp1', 'accepted', hosts).kind).toBe('waiting');
  });
  it('needs the host to change, no task and ACTIVE', () => {
    expect(judge(s({ host: 'spare1' }), 'cmp1', 'done', hosts)).toEqual({ kind: 'verified', host: 'spare1' });
    expect(judge(s({ host: 'spare1' }), 'cmp1', 'completed', hosts)).toEqual({ kind: 'verified', host: 'spare1' });
    expect(judge(s({ host: 'spare1', taskState: 'rebuild_spawning', status: 'REBUILD' }), 'cmp1', 'accepted', hosts).kind).toBe('waiting');
    expect(judge(s({ host: 'spare1', status: 'ERROR' }), 'cmp1', 'done', hosts).kind).toBe('failed');
    expect(judge(s({ status: 'ERROR' }), 'cmp1', 'error', hosts).kind).toBe('failed');
  });
  it.each([
    ['a host Nova does not list as a compute service', s({ host: '12345' }), 'done', hosts, /not a nova-compute service/],
    ['a compute service list that could not be read', s({ host: 'spare1' }), 'done', null, /could not be read/],
    ['ACTIVE elsewhere without an evacuation migration', s({ host: 'spare1' }), undefined, hosts, /migration is missing/],
    ['ACTIVE elsewhere with the migration still accepted', s({ host: 'spare1' }), 'accepted', hosts, /migration is accepted/],
  ])('cannot verify: %s', (_what, server, mig, known, why) => {
    const v = judge(server, 'cmp1', mig, known);
    expect(v.kind).toBe('waiting');
    expect(v.kind === 'waiting' && v.why).toMatch(why);
  });

  it('verifies an evacuated server and records its durations', async () => {
    const { h } = await deadHost(['a']);
    await requestEvacuation(h.ctx, 'a');
    const { entry } = await verifyServer(h.ctx, { serverId: 'a' });
    expect(entry).toMatchObject({ state: 'verified', target: 'spare1' });
    expect(entry.evacuationMs).toBeGreaterThanOrEqual(0);
    expect(entry.downtimeMs).toBeGreaterThanOrEqual(1000);
  });

  it('fails a server that is not back within verify_timeout', async () => {
    const { h } = await deadHost(['a']);
    await requestEvacuation(h.ctx, 'a');
    h.nova.evacuateReads = 1_000_000;
    const { entry } = await verifyServer({ ...h.ctx, evacuation: { ...h.ctx.evacuation, verifyTimeoutMs: 30 } }, { serverId: 'a' });
    expect(entry.state).toBe('failed');
    expect(entry.error).toMatch(/not verified within 30ms: still on cmp1/);
  });
});
