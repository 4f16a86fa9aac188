import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/types.js';
import { createDetector } from '../../../src/detector/detector.js';
import { detectorKeys } from '../../../src/detector/keys.js';
import { createProber } from '../../../src/detector/prober.js';
import type { Detector, RoundReport } from '../../../src/detector/types.js';
import { createOpenStack } from '../../../src/openstack/index.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { runSim, type RunningSim } from '../../../src/sim/index.js';
import { computeOf } from '../../helpers/compute.js';
import { RecordingIncidents } from '../../helpers/recording-incidents.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { newRedis } from '../../unit/pipeline/harness.js';
import { waitFor } from '../pipeline/world.js';

// The leader lease against slow rounds: two detector loops (leader and standby) on one Redis and the simulated
// cloud, whose Nova then answers every call only after longer than the lease. The leader's rounds take longer than
// its lease, yet it keeps leading: the lease is renewed on its own timer, not by the rounds.

let redisServer: RedisServer;
let sim: RunningSim | undefined;
const running: Detector[] = [];
beforeAll(async () => { redisServer = await startRedis(); });
afterEach(async () => {
  for (const d of running.splice(0)) await d.stop();
  await sim?.close();
  sim = undefined;
});
afterAll(async () => { await redisServer?.stop(); });

describe('the leader lease and a stalled Nova read', () => {
  it('a leader whose rounds wait on Nova longer than its lease keeps leading; the standby never takes over; the epoch does not move', async () => {
    sim = await runSim({ hosts: 3, instancesPerHost: 1, spares: 1, reportIntervalSeconds: 1, serviceDownTimeSeconds: 6, bootSeconds: 0.1 });
    const loaded = await loadConfig({ path: sim.configPath, env: {} });
    const leaseMs = 4000;
    const config: Config = {
      ...loaded,
      detector: { ...loaded.detector, intervalMs: 500, probeIntervalMs: 500, leaderLeaseMs: leaseMs },
      redis: { ...loaded.redis, url: redisServer.url, prefix: `lease-renew-${process.pid}` },
    };
    const redis = newRedis(redisServer.url);
    const rounds = { a: [] as RoundReport[], b: [] as RoundReport[] };
    const detector = (name: 'a' | 'b') => {
      const d = createDetector({
        config, compute: computeOf(createOpenStack(config.cloud, { logger: silentLogger }).nova, { config }), prober: createProber(config.detector, { logger: silentLogger }),
        redis, owner: `replica-${name}`, incidents: new RecordingIncidents(), logger: silentLogger,
        onRound: (r) => { if (r) rounds[name].push(r); },
      });
      running.push(d);
      return d;
    };
    try {
      detector('a').start();
      await waitFor('A to lead', async () => rounds.a.some((r) => r.leader), 30_000);
      detector('b').start();
      await waitFor('B to finish a round as standby', async () => rounds.b.length > 0, 30_000);
      const epochKey = `${detectorKeys(config.redis.prefix).leader}:epoch`;
      const epoch = await redis.get(epochKey);

      // Every Nova answer now comes after 2.5 lease durations: each round waits at least that long for its reads.
      const stallMs = Math.round(leaseMs * 2.5);
      await fetch(`${sim.controlUrl}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ latencyMs: stallMs, services: ['nova'] }) });
      const since = { a: rounds.a.length, b: rounds.b.length };
      await waitFor('three slow rounds of each replica', async () => rounds.a.length - since.a >= 3 && rounds.b.length - since.b >= 3, 120_000, 200);
      const slowA = rounds.a.slice(since.a);
      const slowB = rounds.b.slice(since.b);
      expect(slowA.filter((r) => r.durationMs > leaseMs).length, 'rounds of the leader that took longer than its lease').toBeGreaterThanOrEqual(2);
      expect(slowA.map((r) => r.leader)).toEqual(slowA.map(() => true));
      expect(slowB.map((r) => r.leader)).toEqual(slowB.map(() => false));
      expect(await redis.get(epochKey)).toBe(epoch);
      expect(await redis.get(detectorKeys(config.redis.prefix).leader)).toBe('replica-a');
    } finally {
      redis.disconnect();
    }
  }, 240_000);
});
