import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/types.js';
import { createDetector } from '../../../src/detector/detector.js';
import { createProber } from '../../../src/detector/prober.js';
import type { RoundReport } from '../../../src/detector/types.js';
import { createOpenStack } from '../../../src/openstack/index.js';
import type { ServiceUpdate } from '../../../src/openstack/types.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { runSim, type RunningSim } from '../../../src/sim/index.js';
import { RecordingIncidents } from '../../helpers/recording-incidents.js';
import { RecordingNotifier } from '../../helpers/recording-notifier.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { computeOf } from '../../helpers/compute.js';

// Nova moves a service's updated_at on every PUT /os-services, so a write inside the first heartbeat gaps splits
// one 10 s gap in two. Learned from the halves, the period came out at 7 s and the next ordinary 10 s gap read as
// a missed heartbeat: a false "nova-compute down" page for a healthy spare in the middle of a failover. Replayed
// here with Nova's default timings, the real detector with real Redis, and the simulator's clock moved one second
// per round (cmpha's default interval).

let redis: RedisServer;
beforeAll(async () => { redis = await startRedis(); });
afterAll(async () => { await redis.stop(); });
const open: Array<{ close(): Promise<void> | void }> = [];
afterEach(async () => {
  while (open.length > 0) await open.pop()!.close();
});

async function world() {
  const sim: RunningSim = await runSim({ hosts: 2, instancesPerHost: 1, spares: 1, reportIntervalSeconds: 10, serviceDownTimeSeconds: 60, bootSeconds: 0.1 });
  open.push(sim);
  const loaded = await loadConfig({ path: sim.configPath, env: {} });
  const config: Config = { ...loaded, redis: { ...loaded.redis, prefix: `hb-${process.pid}-${Math.random().toString(36).slice(2, 8)}` } };
  const client = new Redis(redis.url, { maxRetriesPerRequest: null });
  open.push({ close: () => client.disconnect() });
  const { nova } = createOpenStack(config.cloud, { logger: silentLogger, clock: sim.world.clock, retryBaseDelayMs: 10 });
  const notifier = new RecordingNotifier();
  const detector = createDetector({
    config, compute: computeOf(nova, { config }), prober: createProber(config.detector, { logger: silentLogger }), redis: client, clock: sim.world.clock,
    incidents: new RecordingIncidents(() => sim.world.clock.now()), notifier, logger: silentLogger,
  });
  open.push({ close: () => detector.stop() });
  const reports: RoundReport[] = [];
  const now = () => sim.world.clock.now();
  /** One second of the simulator's clock, then one round (the default interval is 1 s). */
  const tick = async () => {
    sim.world.clock.advance(1000);
    sim.world.advance();
    reports.push(await detector.runRound());
  };
  /** Rounds until `host`'s heartbeat lands, then `seconds` more: returns Nova's updated_at of that heartbeat. */
  const afterHeartbeat = async (host: string, seconds: number) => {
    const h = sim.world.host(host)!;
    const before = sim.world.lastHeartbeat(h);
    while (sim.world.lastHeartbeat(h) === before) await tick();
    const beat = sim.world.lastHeartbeat(h)!;
    while (now() < beat + seconds * 1000) await tick();
    return beat;
  };
  const put = async (host: string, update: ServiceUpdate) => {
    const [svc] = await nova.listComputeServices({ host });
    await nova.updateService(svc!.id, update);
  };
  const verdicts = (host: string) => reports.map((r) => r.hosts.find((x) => x.host === host)?.verdict ?? '-');
  const period = (host: string) => reports.at(-1)!.hosts.find((x) => x.host === host)!.evidence.nova;
  return { sim, tick, afterHeartbeat, put, verdicts, period, notifier };
}

describe('the heartbeat period is never learned short from an admin write', () => {
  it('the spare enabled 3 s after a heartbeat (updated_at :25, :35, :38, :45, :55): no agent-down verdict, no page', async () => {
    const w = await world();
    await w.afterHeartbeat('spare1', 1); // :25, seen while the spare waits disabled
    await w.afterHeartbeat('spare1', 3); // :35, then three seconds
    await w.put('spare1', { status: 'enabled' }); // :38, as the spare step enables it
    const start = w.verdicts('spare1').length;
    for (let i = 0; i < 45; i++) await w.tick(); // :45, :55, :05, :15 and on
    const after = w.verdicts('spare1').slice(start);
    expect(after).not.toContain('agent-down');
    expect(new Set(after)).toEqual(new Set(['healthy']));
    expect(w.notifier.of('agent-down')).toEqual([]);
    expect(w.period('spare1')).toMatchObject({ heartbeatPeriodMs: 10_000, heartbeatLearned: true });
  });

  it('an operator\'s `openstack compute service set` in the first gaps: no agent-down verdict, whether or not it changes what Nova shows', async () => {
    const w = await world();
    // compute1: `service set --up` on a host that is not forced down: updated_at moves, nothing else does.
    await w.afterHeartbeat('compute1', 3);
    await w.put('compute1', { forcedDown: false });
    // compute2: `service set --disable --disable-reason ...`, then `--enable` two seconds later.
    await w.afterHeartbeat('compute2', 3);
    await w.put('compute2', { status: 'disabled', disabledReason: 'checking the disks' });
    await w.tick();
    await w.tick();
    await w.put('compute2', { status: 'enabled' });
    const start = w.verdicts('compute1').length;
    for (let i = 0; i < 45; i++) await w.tick();
    for (const host of ['compute1', 'compute2']) {
      expect(w.verdicts(host).slice(start), host).not.toContain('agent-down');
      expect(w.notifier.of('agent-down', host), host).toEqual([]);
    }
  });
});
