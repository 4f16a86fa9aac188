import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_REFERENCE } from '../../../src/config/reference.js';
import { queueNames } from '../../../src/pipeline/queues.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { newRedis } from '../../unit/pipeline/harness.js';
import { pipelineWorld, waitClosed, type PipelineWorld } from './world.js';

// `concurrency` is one limit for the whole controller, as the reference says: three incidents at once share it.

let redisServer: RedisServer;
let redis: Redis;
let w: PipelineWorld | undefined;

beforeAll(async () => {
  redisServer = await startRedis();
  redis = newRedis(redisServer.url);
});
afterEach(async () => {
  await w?.close();
  w = undefined;
});
afterAll(async () => {
  redis.disconnect();
  await redisServer.stop();
});

describe('evacuation concurrency', () => {
  it('the reference says which limits are global', () => {
    const evac = CONFIG_REFERENCE.find((s) => s.section === 'evacuation')!;
    const help = (key: string) => evac.keys.find((k) => k.key === key)!.help;
    expect(help('concurrency')).toMatch(/across all incidents and replicas/);
    expect(help('max_per_minute')).toMatch(/across all incidents and replicas/);
    expect(help('stagger')).toMatch(/same incident/);
  });

  it('three hosts down at once: at most `concurrency` evacuations in flight across all three incidents', async () => {
    w = await pipelineWorld({ hosts: 4, instancesPerHost: 3, spares: 1, evacuateSeconds: 1, redisUrl: redisServer.url, evacuation: { concurrency: 2, spareCount: 0 } });
    const hosts = ['compute1', 'compute2', 'compute3'];
    for (const h of hosts) await w.control(h, 'power-off');
    for (const h of hosts) await w.waitNovaDown(h);
    const r = w.recovery(redis);
    await r.startWorkers();
    const q = new Queue(queueNames(w.config.redis.prefix).evacuate, { connection: redis });
    let most = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        most = Math.max(most, await q.getActiveCount());
        await new Promise((res) => setTimeout(res, 25));
      }
    })();
    try {
      for (const h of hosts) await r.opener.open({ id: `conc-${h}`, host: h, failureStartedAt: Date.now(), evidence: {} });
      for (const h of hosts) expect((await waitClosed(r, `conc-${h}`, 90_000)).status).not.toBe('failed');
    } finally {
      sampling = false;
      await sampler;
      await q.close();
    }
    expect(most).toBeLessThanOrEqual(2);
    expect(most).toBeGreaterThan(0);
  }, 120_000);
});
