import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisConfig } from '../../../src/config/types.js';
import { checkRedis } from '../../../src/doctor/check-redis.js';
import { startSentinelSet, type SentinelSet } from '../../helpers/redis-sentinel.js';

describe('doctor with Redis Sentinel (3 redis-server + 3 redis-sentinel)', () => {
  let set: SentinelSet;
  let config: RedisConfig;
  beforeAll(async () => {
    set = await startSentinelSet();
    config = {
      url: 'redis://127.0.0.1', prefix: `doctor-sentinel-${process.pid}`, masterName: set.masterName,
      sentinels: set.sentinelPorts.map((port) => ({ host: '127.0.0.1', port })),
    };
  }, 60_000);
  afterAll(async () => { await set?.stop(); });

  it('reports the master each sentinel names, its replicas, and the persistence settings', async () => {
    const { checks } = await checkRedis(config, [], { timeoutMs: 3000 });
    const master = await set.masterPort();
    expect(checks.find((c) => c.name === 'redis')).toMatchObject({ status: 'ok' });
    expect(checks.find((c) => c.name === 'sentinel-master')).toMatchObject({ status: 'ok', detail: expect.stringContaining(`127.0.0.1:${master} by 3 of 3 sentinel(s)`) });
    expect(checks.filter((c) => c.name === 'sentinel')).toHaveLength(3);
    expect(checks.find((c) => c.name === 'sentinel')!.detail).toMatch(/2 replica\(s\), 2 other sentinel\(s\), quorum 2/);
    expect(checks.find((c) => c.name === 'redis-eviction')).toMatchObject({ status: 'ok' });
    expect(checks.find((c) => c.name === 'redis-persistence')).toMatchObject({ status: 'ok' });
  });

  it('after the master is killed, names the promoted replica; a dead sentinel is a warning, not a failure', async () => {
    const old = await set.killMaster();
    const promoted = await set.waitForFailover(old);
    const { checks } = await checkRedis(config, [], { timeoutMs: 3000 });
    expect(checks.find((c) => c.name === 'redis')).toMatchObject({ status: 'ok' });
    expect(checks.find((c) => c.name === 'sentinel-master')!.detail).toContain(`127.0.0.1:${promoted}`);
    const bad = await checkRedis({ ...config, sentinels: [...config.sentinels!, { host: '127.0.0.1', port: 1 }] }, [], { timeoutMs: 2000 });
    expect(bad.checks.find((c) => c.detail.startsWith('sentinel 127.0.0.1:1:'))).toMatchObject({ status: 'warn' });
  }, 60_000);
});
