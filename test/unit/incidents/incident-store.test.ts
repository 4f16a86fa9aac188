import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IncidentStore, validateId } from '../../../src/incidents/incident-store.js';
import { CmphaError } from '../../../src/shared/errors.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { newRedis } from '../pipeline/harness.js';

let server: RedisServer;
let redis: Redis;
let n = 0;
const store = () => new IncidentStore(redis, `store-${++n}`);
const req = (id: string, host = 'cmp1') => ({ id, host, failureStartedAt: 1000, evidence: { mgmt: 'silent', nova: 'down' } });

beforeAll(async () => {
  server = await startRedis();
  redis = newRedis(server.url);
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

describe('IncidentStore', () => {
  it('opens one incident per host and reports it open until it closes', async () => {
    const s = store();
    expect(await s.open(req('a1'))).toEqual({ created: true });
    expect(await s.open(req('a1'))).toEqual({ created: false });
    expect(await s.create(req('a2'))).toEqual({ created: false, reason: 'host-busy', existingId: 'a1' });
    expect(await s.hasOpenIncident('cmp1')).toBe(true);
    expect(await s.hasOpenIncident('cmp2')).toBe(false);
    const rec = await s.getRecord('a1');
    expect(rec).toMatchObject({ id: 'a1', host: 'cmp1', status: 'open', evidence: { mgmt: 'silent', nova: 'down' }, origin: 'detector' });
    expect(await s.activeIds()).toEqual(['a1']);

    await s.update('a1', (r) => ({ ...r, status: 'aborted' }));
    expect(await s.hasOpenIncident('cmp1')).toBe(false);
    expect(await s.activeIds()).toEqual([]);
    expect((await s.getRecord('a1'))!.closedAt).toBeGreaterThan(0);
    expect(await s.open(req('a2'))).toEqual({ created: true });
  });

  it('refuses to reopen a closed incident', async () => {
    const s = store();
    await s.open(req('b1'));
    await s.transition('b1', 'fenced');
    await s.transition('b1', 'resolved');
    await expect(s.update('b1', (r) => ({ ...r, status: 'evacuating' }))).rejects.toThrow(/already resolved/);
  });

  it('loses no write when many writers update the same record and instance at once', async () => {
    const s = store();
    await s.open(req('c1'));
    await s.addInstances('c1', [{ id: 'srv', name: 'srv', projectId: 'p', userId: 'u', source: 'cmp1', target: null, priority: 0 }]);
    const writers = Array.from({ length: 40 }, (_, i) => i);
    // Two separate connections as well as one shared one: the compare-and-set must hold for both.
    const other = newRedis(server.url);
    const s2 = new IncidentStore(other, `store-${n}`);
    await Promise.all(writers.map((i) => (i % 2 ? s : s2).update('c1', (r) => ({ ...r, notified: [...r.notified, 'test'] }))));
    await Promise.all(writers.map((i) => (i % 2 ? s : s2).updateInstance('c1', 'srv', 'evacuate_requested', (e) => ({ attempts: e.attempts + 1 }))));
    other.disconnect();
    expect((await s.getRecord('c1'))!.notified).toHaveLength(40);
    expect((await s.getInstance('c1', 'srv'))!.attempts).toBe(40);
  });

  it('keeps recorded instance progress when the inventory is added again', async () => {
    const s = store();
    await s.open(req('d1'));
    const entry = { id: 'x', name: 'x', projectId: 'p', userId: 'u', source: 'cmp1', target: null, priority: 0 };
    await s.addInstances('d1', [entry]);
    await s.updateInstance('d1', 'x', 'already_moving', {});
    await s.addInstances('d1', [entry, { ...entry, id: 'y', name: 'y' }]);
    const all = await s.listInstances('d1');
    expect(all.map((e) => [e.id, e.state])).toEqual([['x', 'evacuated'], ['y', 'pending']]);
  });

  it('refuses an instance write the per-server table does not allow, and writes nothing', async () => {
    const s = store();
    await s.open(req('g1'));
    await s.addInstances('g1', [{ id: 'x', name: 'x', projectId: 'p', userId: 'u', source: 'cmp1', target: 'spare1', priority: 0 }]);
    // Verified before Nova ever accepted it: pending → verified is no move.
    await expect(s.updateInstance('g1', 'x', 'network_verified', { verifiedAt: 1 })).rejects.toMatchObject({
      code: 'instance_illegal_transition', message: 'incident g1 server x: illegal move from pending to verified on network_verified',
    });
    expect(await s.getInstance('g1', 'x')).toMatchObject({ rev: 1, state: 'pending' });
    expect((await s.getInstance('g1', 'x'))!.verifiedAt).toBeUndefined();
    // A settled entry stays settled: a failed server is not sent back to pending by a retarget.
    await s.updateInstance('g1', 'x', 'failed', { error: 'evacuation migration error' });
    await expect(s.updateInstance('g1', 'x', 'retargeted', { target: null, retargetedFrom: 'spare1' })).rejects.toThrow(/illegal move from failed to pending on retargeted/);
    await expect(s.updateInstance('g1', 'x', 'evacuate_requested', (e) => ({ attempts: e.attempts + 1 }))).rejects.toThrow(/illegal move from failed to evacuating/);
    expect(await s.getInstance('g1', 'x')).toMatchObject({ rev: 2, state: 'failed', target: 'spare1', attempts: 0 });
    // An entry is recorded pending or skipped, never further on.
    await expect(s.addInstances('g1', [{ id: 'y', name: 'y', projectId: 'p', userId: 'u', source: 'cmp1', target: null, priority: 0, state: 'verified' }]))
      .rejects.toThrow(/recorded pending or skipped, not verified/);
    expect(await s.getInstance('g1', 'y')).toBeNull();
  });

  it('a recovery whose controller was deposed writes nothing, records included', async () => {
    const s = store();
    await s.open(req('h1'));
    await s.addInstances('h1', [{ id: 'x', name: 'x', projectId: 'p', userId: 'u', source: 'cmp1', target: null, priority: 0 }]);
    let leading = true;
    const asked: string[] = [];
    const rec = s.forRecovery({
      async assertLeading() {
        asked.push('asked');
        if (!leading) throw new CmphaError('deposed', 'another controller leads now');
      },
    });
    await rec.addTimeline('h1', { step: 'fence', level: 'info', message: 'while leading' });
    expect(asked).toHaveLength(1);
    const before = await s.get('h1');
    leading = false;
    const deposed = { code: 'deposed' };
    await expect(rec.transition('h1', 'fenced')).rejects.toMatchObject(deposed);
    await expect(rec.update('h1', (r) => ({ ...r, zone: 'nova' }))).rejects.toMatchObject(deposed);
    await expect(rec.addTimeline('h1', { step: 'verify', level: 'info', message: 'x runs ACTIVE on spare1' })).rejects.toMatchObject(deposed);
    await expect(rec.addInstances('h1', [{ id: 'y', name: 'y', projectId: 'p', userId: 'u', source: 'cmp1', target: null, priority: 0 }])).rejects.toMatchObject(deposed);
    await expect(rec.updateInstance('h1', 'x', 'target_chosen', { target: 'spare1' })).rejects.toMatchObject(deposed);
    await expect(rec.addDeliveries('h1', [{ channel: 'mail', recipient: 'ops@x', event: 'incident-failed', ok: true, at: 1, attempts: 1 }])).rejects.toMatchObject(deposed);
    await expect(rec.claimSpare('spare1', 'h1', 60_000)).rejects.toMatchObject(deposed);
    expect(await s.get('h1')).toEqual(before);
    expect(await s.spareClaimedBy('spare1')).toBeNull();
    // The operator's store is not the recovery's: an acknowledgement still lands.
    await s.ack('h1', 'alice');
    expect((await s.getRecord('h1'))!.ack).toMatchObject({ by: 'alice' });
  });

  it('a closed incident takes no more entries from its recovery, but its closing notice and the operator still write', async () => {
    const s = store();
    const rec = s.forRecovery();
    await s.open(req('k1'));
    await s.addInstances('k1', [{ id: 'x', name: 'x', projectId: 'p', userId: 'u', source: 'cmp1', target: 'spare1', priority: 0 }]);
    await rec.updateInstance('k1', 'x', 'already_moving', {});
    await s.transition('k1', 'fenced');
    // The close note is written with the close, in the same write.
    await rec.update('k1', (r) => ({ ...r, status: 'resolved' }), 'resolved', { timeline: [{ step: 'close', level: 'info', message: 'incident resolved' }] });
    const closed = (await s.get('k1'))!;
    expect(closed.timeline.at(-1)).toMatchObject({ step: 'close', at: closed.closedAt });

    const refused = { code: 'incident_closed', message: expect.stringMatching(/^incident k1 is closed: its record takes no more entries/) };
    await expect(rec.addTimeline('k1', { step: 'verify', level: 'info', serverId: 'x', message: 'x runs ACTIVE on spare1' })).rejects.toMatchObject(refused);
    await expect(rec.updateInstance('k1', 'x', 'running_elsewhere', { activeAt: 1 })).rejects.toMatchObject(refused);
    await expect(rec.addInstances('k1', [{ id: 'y', name: 'y', projectId: 'p', userId: 'u', source: 'cmp1', target: null, priority: 0 }])).rejects.toMatchObject(refused);
    await expect(rec.update('k1', (r) => ({ ...r, failoverMs: 1 }))).rejects.toMatchObject(refused);
    const after = (await s.get('k1'))!;
    expect(after.timeline).toEqual(closed.timeline);
    expect(after.instances).toEqual(closed.instances);
    expect(after.rev).toBe(closed.rev);

    // The closing notice goes out after the close: its delivery, its timeline line and the notified list.
    await rec.addDeliveries('k1', [{ channel: 'mail', recipient: 'ops@x', event: 'incident-resolved', ok: true, at: 1, attempts: 1 }]);
    await rec.update('k1', (r) => ({ ...r, notified: [...r.notified, 'incident-resolved'] }));
    await rec.addTimeline('k1', { step: 'notify', level: 'info', message: 'incident-resolved (info) sent: 1 of 1 deliveries succeeded' });
    // An operator acknowledges a closed incident through the plain store.
    await s.ack('k1', 'alice');
    const last = (await s.get('k1'))!;
    expect(last.timeline.slice(closed.timeline.length).map((t) => t.step)).toEqual(['notify', 'ack']);
    expect(last).toMatchObject({ notified: ['incident-resolved'], ack: { by: 'alice' } });
    expect(last.deliveries).toHaveLength(1);
  });

  it('returns the whole incident with its timeline, deliveries and acknowledgement', async () => {
    const s = store();
    await s.open(req('e1'));
    await s.addTimeline('e1', { step: 'fence', level: 'info', message: 'power reads back off' });
    await s.addDeliveries('e1', [{ channel: 'mail', recipient: 'ops@x', event: 'incident-opened', ok: true, at: 1, attempts: 1 }]);
    await s.ack('e1', 'alice');
    const inc = await s.get('e1');
    expect(inc!.timeline.map((t) => t.step)).toEqual(['open', 'fence', 'ack']);
    expect(inc!.deliveries).toHaveLength(1);
    expect(inc!.ack).toMatchObject({ by: 'alice' });
    expect(await s.get('nope')).toBeNull();
    expect((await s.list()).map((r) => r.id)).toEqual(['e1']);
  });

  it('gives a spare to one incident at a time', async () => {
    const s = store();
    expect(await s.claimSpare('spare1', 'i1', 60_000)).toBe(true);
    expect(await s.claimSpare('spare1', 'i1', 60_000)).toBe(true);
    expect(await s.claimSpare('spare1', 'i2', 60_000)).toBe(false);
    await s.releaseSpare('spare1', 'i2');
    expect(await s.spareClaimedBy('spare1')).toBe('i1');
    await s.releaseSpare('spare1', 'i1');
    expect(await s.claimSpare('spare1', 'i2', 60_000)).toBe(true);
  });

  it('rejects ids a queue job id or key cannot carry, naming the id', () => {
    expect(() => validateId('host:1')).toThrow(/"host:1".*no ':'/);
    expect(() => validateId('')).toThrow(/incident id ""/);
    expect(() => validateId('cmp1-20260101T000000Z')).not.toThrow();
  });
});
