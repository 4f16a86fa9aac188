import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { cloudpodsBackend, type CloudpodsBackend } from '../../../src/compute/cloudpods/index.js';
import type { Guest } from '../../../src/compute/types.js';
import { loadConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/types.js';
import { createOpenStack } from '../../../src/openstack/index.js';
import type { RegionApi } from '../../../src/openstack/cloudpods.js';
import { fenceDriversFromConfig } from '../../../src/app/fence-parts.js';
import { createRecovery, type Recovery, type RecoveryDeps } from '../../../src/pipeline/create-recovery.js';
import type { HostAliveCheck } from '../../../src/pipeline/steps/recheck-alive.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { runSim, type RecordedCall, type RunningSim, type SimOptions } from '../../../src/sim/index.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { newRedis } from '../../unit/pipeline/harness.js';
import { anyAlive, FAST_QUEUE, RecordingNotifier, waitFor } from './world.js';

// The pipeline world of world.ts on a simulated Cloudpods region: the real region client and the Cloudpods
// adapter, Redfish fencing through the simulator's BMCs, a config pointing at a test Redis. The region sets a
// dead host offline by itself after `serviceDownTimeSeconds` (its HostOfflineMaxSeconds).

export interface CloudpodsWorld {
  readonly sim: RunningSim;
  readonly config: Config;
  readonly region: RegionApi;
  readonly compute: CloudpodsBackend;
  readonly notifier: RecordingNotifier;
  readonly isHostAlive: HostAliveCheck;
  recovery(redis: Redis, extra?: Partial<RecoveryDeps>): Recovery;
  control(host: string, action: string, body?: unknown): Promise<void>;
  calls(): Promise<RecordedCall[]>;
  /** The region's migrate calls about this guest (what cmpha must send once). */
  migrateCalls(guestId: string): Promise<RecordedCall[]>;
  guestsOn(host: string): Promise<Guest[]>;
  /** Until the host's region heartbeat is older than the controller's heartbeat timeout. */
  waitSilent(host: string): Promise<void>;
  close(): Promise<void>;
}

let seq = 0;

/** The cmpha config of a simulated region, with short timings, on the Redis at `redisUrl`. */
export function fastConfig(loaded: Config, redisUrl: string, evacuation: Partial<Config['evacuation']> = {}): Config {
  return {
    ...loaded,
    detector: { ...loaded.detector, heartbeatTimeoutMs: 1500 },
    fencing: { ...loaded.fencing, timeoutMs: 5000, pollIntervalMs: 100, attempts: 2 },
    evacuation: { ...loaded.evacuation, verifyPollIntervalMs: 100, verifyTimeoutMs: 20_000, staggerMs: 0, maxPerMinute: 10_000, ...evacuation },
    redis: { ...loaded.redis, url: redisUrl, prefix: `cp${process.pid}-${++seq}` },
  };
}

export const isMigrate = (c: RecordedCall) => c.service === 'cloudpods' && c.method === 'POST' && /\/servers\/[^/]+\/migrate$/.test(c.path);
/** Host changes cmpha makes: offline, enable/disable, metadata (its mark). */
export const isHostChange = (c: RecordedCall) => c.service === 'cloudpods' && c.method === 'POST' && /\/hosts\/[^/]+\/(offline|disable|enable|metadata)$/.test(c.path);

export async function cloudpodsWorld(opts: Omit<SimOptions, 'cloud'> & { evacuation?: Partial<Config['evacuation']>; redisUrl: string }): Promise<CloudpodsWorld> {
  const { evacuation, redisUrl, ...simOpts } = opts;
  const sim = await runSim({ reportIntervalSeconds: 0.5, serviceDownTimeSeconds: 2, bootSeconds: 0.2, cleanupSeconds: 0.3, evacuateSeconds: 0.4, ...simOpts, cloud: 'cloudpods' });
  const config = fastConfig(await loadConfig({ path: sim.configPath, env: {} }), redisUrl, evacuation);
  const { region } = createOpenStack(config.cloud, { logger: silentLogger, retryBaseDelayMs: 20 });
  const compute = cloudpodsBackend(region, config);
  const notifier = new RecordingNotifier();
  const post = async (path: string, body?: unknown) => {
    const r = await fetch(`${sim.controlUrl}${path}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
    return r.json() as Promise<unknown>;
  };
  // The region's view on the simulator's clock: online with a heartbeat younger than the timeout; or the management address answers.
  const heartbeat: HostAliveCheck = async (host, signal) => {
    const h = await compute.host(host, signal ? { signal } : {});
    return h.state === 'up' && h.heartbeatAt !== null && sim.world.clock.now() - h.heartbeatAt.getTime() <= config.detector.heartbeatTimeoutMs;
  };
  const mgmtAlive: HostAliveCheck = async (host) => {
    const ip = config.hosts[host]?.mgmtIp;
    if (!ip) return false;
    return ((await post('/sim/probe', { addresses: [ip] })) as Record<string, boolean>)[ip] === true;
  };
  const isHostAlive = anyAlive(heartbeat, mgmtAlive);
  const recoveries: Recovery[] = [];
  const calls = async () => (await (await fetch(`${sim.controlUrl}/sim/calls`)).json()) as RecordedCall[];
  return {
    sim, config, region, compute, notifier, isHostAlive, calls,
    recovery(redis, extra = {}) {
      const r = createRecovery({
        config, connection: redis, compute, notifier, isHostAlive, logger: silentLogger,
        fenceDriverFor: fenceDriversFromConfig(config, silentLogger), queue: FAST_QUEUE, ...extra,
      });
      recoveries.push(r);
      return r;
    },
    control: async (host, action, body) => { await post(`/sim/hosts/${host}/${action}`, body); },
    migrateCalls: async (id) => (await calls()).filter((c) => isMigrate(c) && c.path.includes(`/servers/${id}/`)),
    guestsOn: (host) => compute.guestsOn(host),
    async waitSilent(host) {
      await waitFor(`${host}'s region heartbeat to go stale`, async () => !(await heartbeat(host)), 10_000);
    },
    async close() {
      for (const r of recoveries) await r.stop();
      await sim.close();
    },
  };
}

/** The hooks of a test file: one redis-server for the file, the test's world closed after each test (world.ts's pipelineSuite, for a region). */
export function cloudpodsSuite() {
  let server: RedisServer | undefined;
  let client: Redis | undefined;
  let current: CloudpodsWorld | undefined;
  beforeAll(async () => {
    server = await startRedis();
    client = newRedis(server.url);
  });
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });
  afterAll(async () => {
    client?.disconnect();
    await server?.stop();
  });
  return {
    get redis(): Redis { return client!; },
    get redisUrl(): string { return server!.url; },
    async world(opts: Omit<Parameters<typeof cloudpodsWorld>[0], 'redisUrl'>): Promise<CloudpodsWorld> {
      current = await cloudpodsWorld({ ...opts, redisUrl: server!.url });
      return current;
    },
  };
}
