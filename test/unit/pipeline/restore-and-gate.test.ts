import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStartGate } from '../../../src/pipeline/rate-gate.js';
import { restoreHost } from '../../../src/pipeline/restore-host.js';
import { systemClock } from '../../../src/shared/time.js';
import { RecordingNova } from '../../helpers/recording-nova.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { newRedis } from './harness.js';
import { computeOf } from '../../helpers/compute.js';

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

const fast = { clock: systemClock, sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, Math.min(ms, 5))) };

describe('restoreHost', () => {
  function forcedDownHost() {
    const nova = new RecordingNova().addHost('cmp1', { forcedDown: true, state: 'down', status: 'disabled', disabledReason: 'cmpha incident x' });
    nova.migrations.push({ id: 'm1', instanceId: 'a', type: 'evacuation', status: 'done', sourceCompute: 'cmp1', destCompute: 'spare1', createdAt: new Date(), updatedAt: null });
    return nova;
  }

  it('does not unset forced_down while evacuations are not cleaned up, and says the host is still forced down', async () => {
    const nova = forcedDownHost();
    const lines: string[] = [];
    const err = await restoreHost({ compute: computeOf(nova), fenceDriver: null, ...fast, progress: (l) => lines.push(l) },
      { host: 'cmp1', powerOn: false, asSpare: false, spareReasonPrefix: 'down_prepare', waitTimeoutMs: 50, pollIntervalMs: 5 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'restore_timeout', message: expect.stringMatching(/cmp1: gave up waiting for its nova-compute to restart .* it is still forced down/) });
    expect(nova.mutating()).toEqual([]);
    expect(lines[0]).toMatch(/waiting for nova-compute to clean up 1 evacuation/);
  });

  it('unsets forced_down, waits for up, then returns the host to the spare pool', async () => {
    const nova = forcedDownHost();
    nova.migrations[0]!.status = 'completed';
    const svc = nova.services.get('cmp1')!;
    // Nova reports it up once forced_down is cleared (its nova-compute already runs again).
    const update = nova.updateService.bind(nova);
    nova.updateService = async (id, u) => {
      const r = await update(id, u);
      if (u.forcedDown === false) svc.state = 'up';
      return { ...r, state: svc.state };
    };
    const res = await restoreHost({ compute: computeOf(nova), fenceDriver: null, ...fast, progress: () => {} },
      { host: 'cmp1', powerOn: false, asSpare: true, spareReasonPrefix: 'down_prepare', waitTimeoutMs: 1000, pollIntervalMs: 5 });
    expect(res.status).toBe('spare');
    expect(nova.mutating('updateService').map((c) => c.args[1])).toEqual([
      { forcedDown: false },
      { status: 'disabled', disabledReason: expect.stringMatching(/^down_prepare spare, returned by cmpha host restore /) },
    ]);
  });
});

describe('RedisStartGate', () => {
  it('admits at most max_per_minute starts in a window, across gate instances', async () => {
    const prefix = `gate-${Date.now()}`;
    const a = new RedisStartGate(redis, { prefix, maxPerMinute: 3, staggerMs: 0 });
    const b = new RedisStartGate(redis, { prefix, maxPerMinute: 3, staggerMs: 0 });
    await Promise.all([a.acquire('i1'), b.acquire('i2'), a.acquire('i3')]);
    const blocked = new AbortController();
    const fourth = b.acquire('i4', blocked.signal);
    const admitted = await Promise.race([fourth.then(() => true, () => false), new Promise<'pending'>((r) => setTimeout(() => r('pending'), 300))]);
    expect(admitted).toBe('pending');
    blocked.abort(new Error('stop waiting'));
    await expect(fourth).rejects.toThrow('stop waiting');
  });

  it('keeps a gap between two starts of the same incident, not across incidents', async () => {
    const prefix = `gap-${Date.now()}`;
    const gate = new RedisStartGate(redis, { prefix, maxPerMinute: 100, staggerMs: 60_000 });
    await gate.acquire('inc-a');
    await gate.acquire('inc-b');
    const blocked = new AbortController();
    const again = gate.acquire('inc-a', blocked.signal);
    const admitted = await Promise.race([again.then(() => true, () => false), new Promise<'pending'>((r) => setTimeout(() => r('pending'), 300))]);
    expect(admitted).toBe('pending');
    blocked.abort(new Error('stop'));
    await expect(again).rejects.toThrow('stop');
  });
});
