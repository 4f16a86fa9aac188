import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/types.js';
import { createDetector } from '../../../src/detector/detector.js';
import { createProber } from '../../../src/detector/prober.js';
import type { RoundReport } from '../../../src/detector/types.js';
import type { NotificationEvent, NotificationService } from '../../../src/notifier/types.js';
import { createOpenStack } from '../../../src/openstack/index.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { runSim, type RunningSim } from '../../../src/sim/index.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { RecordingIncidents } from '../../helpers/recording-incidents.js';
import { computeOf } from '../../helpers/compute.js';

// Whole failures against the simulated cloud: the real Nova client over HTTP, real fping into the
// simulator's network namespaces. The detector runs on the simulator's clock, which the test moves forward
// instead of sleeping, so Nova's view (report 1 s, service_down_time 3 s) changes at once. Silence is
// compressed to match (2 s, for hosts with one signal too); the timing at Nova's defaults is sim-timing.test.ts.


class RecordingNotifier implements NotificationService {
  readonly events: NotificationEvent[] = [];
  async notify(e: NotificationEvent) {
    this.events.push(e);
    return [];
  }
}

// Blocks of 198.18.0.0/15 for this file's worlds, away from the default block 0 other tests use.
const IP_BLOCK = 140 + Math.floor(Math.random() * 20);

interface World {
  sim: RunningSim;
  config: Config;
  incidents: RecordingIncidents;
  notifier: RecordingNotifier;
  control(host: string, action: string): Promise<void>;
  advance(seconds: number): Promise<void>;
  detector(extra?: { redis?: Redis; owner?: string }): ReturnType<typeof createDetector>;
  nova: ReturnType<typeof createOpenStack>['nova'];
}

const open: RunningSim[] = [];

async function world(hosts = 4): Promise<World> {
  const sim = await runSim({
    hosts, instancesPerHost: 2, spares: 1, reportIntervalSeconds: 1, serviceDownTimeSeconds: 3,
    bootSeconds: 0.1, netns: true, ipBlock: IP_BLOCK,
  });
  open.push(sim);
  const loaded = await loadConfig({ path: sim.configPath, env: {} });
  const config: Config = {
    ...loaded,
    detector: {
      ...loaded.detector,
      probe: 'fping', intervalMs: 1000, heartbeatTimeoutMs: 2000, heartbeatIntervalMs: 1000, minSilenceMs: 2000, singleSignalSilenceMs: 2000, instanceNetworks: ['provider'],
      probeCount: 1, probeTimeoutMs: 300, probePacketIntervalMs: 1, maxDeadHosts: 2, maxDeadFraction: 0.33, leaderLeaseMs: 5000,
    },
    redis: { ...loaded.redis, prefix: `det-sim-${process.pid}-${open.length}` },
  };
  const { nova } = createOpenStack(config.cloud, { logger: silentLogger, clock: sim.world.clock, retryBaseDelayMs: 10 });
  const incidents = new RecordingIncidents();
  const notifier = new RecordingNotifier();
  const post = async (path: string, body?: unknown) => {
    const r = await fetch(`${sim.controlUrl}${path}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  };
  return {
    sim, config, incidents, notifier, nova,
    control: (host, action) => post(`/sim/hosts/${host}/${action}`),
    advance: (seconds) => post('/sim/clock', { advanceSeconds: seconds }),
    detector: (extra = {}) => createDetector({
      config, compute: computeOf(nova, { config }), prober: createProber(config.detector, { logger: silentLogger }), clock: sim.world.clock,
      incidents, notifier, logger: silentLogger, ...extra,
    }),
  };
}

const verdictOf = (r: RoundReport, host: string) => r.hosts.find((h) => h.host === host)?.verdict;

/** Compute hosts with running servers (whose addresses answer), and those addresses. */
async function activeServers(w: World): Promise<Map<string, string[]>> {
  const state = await (await fetch(`${w.sim.controlUrl}/sim/state`)).json() as { servers: Array<{ host: string; vm_state: string; ip: string | null }> };
  const out = new Map<string, string[]>();
  for (const s of state.servers) if (s.vm_state === 'active' && s.ip) out.set(s.host, [...(out.get(s.host) ?? []), s.ip].sort());
  return out;
}

/** Rounds one simulated second apart, as the loop would run them. */
async function rounds(w: World, d: ReturnType<typeof createDetector>, n: number): Promise<RoundReport[]> {
  const out: RoundReport[] = [];
  for (let i = 0; i < n; i++) {
    await w.advance(1);
    out.push(await d.runRound());
  }
  return out;
}

afterEach(async () => {
  while (open.length > 0) await open.pop()!.close();
});

describe('detector against the simulated cloud', () => {
  it('sees a healthy cloud as healthy, and the spare as maintenance', async () => {
    const w = await world();
    const d = w.detector();
    const [r] = await rounds(w, d, 1);
    expect(r!.isolated).toBe(false);
    expect(r!.probeFailed).toBeNull();
    expect(Object.fromEntries(r!.hosts.map((h) => [h.host, h.verdict]))).toEqual({
      compute1: 'healthy', compute2: 'healthy', compute3: 'healthy', compute4: 'healthy', spare1: 'maintenance',
    });
  });

  it('nova-compute dies, host reachable: agent-down, alerted once, no incident', async () => {
    const w = await world();
    const d = w.detector();
    await rounds(w, d, 1);
    await w.control('compute1', 'nova-compute/stop');
    await w.advance(4);
    const rs = await rounds(w, d, 3);
    for (const r of rs) expect(r.hosts.find((h) => h.host === 'compute1')).toMatchObject({ verdict: 'agent-down', action: 'alert' });
    expect(rs[2]!.hosts.find((h) => h.host === 'compute1')!.evidence).toMatchObject({ nova: { says: 'down' }, mgmt: { result: 'alive' } });
    expect(w.incidents.opened).toHaveLength(0);
    expect(w.notifier.events.map((e) => `${e.type}:${e.host}`)).toEqual(['agent-down:compute1']);
  });

  it('management link drops, instances reachable: isolated-mgmt, no incident', async () => {
    const w = await world();
    const d = w.detector();
    await rounds(w, d, 1);
    const [host] = [...(await activeServers(w))][0]!;
    await w.control(host, 'mgmt-link/down');
    await w.advance(4);
    const rs = await rounds(w, d, 3);
    for (const r of rs) expect(verdictOf(r, host)).toBe('isolated-mgmt');
    const ev = rs[2]!.hosts.find((h) => h.host === host)!.evidence;
    expect(ev.mgmt.result).toBe('silent');
    expect(ev.instances.answered).toBeGreaterThan(0);
    expect(w.incidents.opened).toHaveLength(0);
  });

  it('management and instance links down, storage link up: the notice names the storage address as what answered', async () => {
    const w = await world();
    const d = w.detector();
    await rounds(w, d, 1);
    const [host] = [...(await activeServers(w))][0]!;
    await w.control(host, 'mgmt-link/down');
    await w.control(host, 'instance-link/down');
    await w.advance(4);
    const rs = await rounds(w, d, 3);
    expect(verdictOf(rs[2]!, host)).toBe('isolated-mgmt');
    const storageIp = w.config.hosts[host]!.storageIps![0]!;
    const mgmtIp = rs[2]!.hosts.find((h) => h.host === host)!.evidence.mgmt.ip!;
    const notices = w.notifier.events.filter((e) => e.type === 'isolated-mgmt' && e.host === host);
    expect(notices).toHaveLength(1);
    expect(notices[0]!.summary).not.toMatch(/its instances answer/);
    expect(notices[0]!.summary).toMatch(new RegExp(`\\(answered: storage IP ${storageIp.replace(/\./g, '\\.')}; silent: management IP ${mgmtIp.replace(/\./g, '\\.')}, \\d+ of \\d+ instance address(es)?\\)$`));
    expect(w.incidents.opened).toHaveLength(0);
  });

  it('power off: suspect, then dead after the confirm rounds, and exactly one incident', async () => {
    const w = await world();
    const d = w.detector();
    await rounds(w, d, 2);
    // The victim: a host with running servers, whose addresses answered while it was healthy.
    const [victim, victimIps] = [...(await activeServers(w))][0]!;
    await w.control(victim, 'power-off');
    const seen: string[] = [];
    for (let i = 0; i < 8 && w.incidents.opened.length === 0; i++) {
      const [r] = await rounds(w, d, 1);
      seen.push(verdictOf(r!, victim)!);
    }
    expect(seen.at(-1)).toBe('dead');
    expect(seen.slice(0, -1).every((v) => v === 'suspect')).toBe(true);
    expect(seen.length).toBeGreaterThanOrEqual(2);
    const more = await rounds(w, d, 3);
    for (const r of more) expect(r.hosts.find((h) => h.host === victim)).toMatchObject({ verdict: 'dead', action: 'incident-already-open' });
    expect(w.incidents.opened).toHaveLength(1);
    const inc = w.incidents.opened[0]!;
    expect(inc.host).toBe(victim);
    expect(inc.id).toBe(`${victim}-${Math.floor(inc.failureStartedAt / 1000)}`);
    const baseline = inc.evidence.instances.addresses.filter((a) => a.baseline);
    expect(baseline.map((a) => a.ip).sort()).toEqual(victimIps);
    expect(baseline.every((a) => a.result === 'silent')).toBe(true);
    for (const other of ['compute1', 'compute2', 'compute3', 'compute4'].filter((h) => h !== victim)) expect(verdictOf(more[2]!, other)).toBe('healthy');
  });

  it('a disabled host that is powered off is ignored', async () => {
    const w = await world();
    const d = w.detector();
    await rounds(w, d, 1);
    const svc = (await w.nova.listComputeServices({ host: 'compute4' }))[0]!;
    await w.nova.updateService(svc.id, { status: 'disabled', disabledReason: 'kernel upgrade' });
    await w.control('compute4', 'power-off');
    const rs = await rounds(w, d, 5);
    for (const r of rs) expect(r.hosts.find((h) => h.host === 'compute4')).toMatchObject({ verdict: 'maintenance', action: 'none' });
    expect(w.incidents.opened).toHaveLength(0);
    expect(w.notifier.events).toHaveLength(0);
  });

  it('three of four hosts powered off: storm brake, no incident, one alert', async () => {
    const w = await world();
    const d = w.detector();
    await rounds(w, d, 1);
    for (const h of ['compute1', 'compute2', 'compute3']) await w.control(h, 'power-off');
    await w.advance(4);
    const rs = await rounds(w, d, 4);
    const last = rs.at(-1)!;
    expect(last.stormBrake.active).toBe(true);
    expect(last.hosts.filter((h) => h.verdict === 'dead').map((h) => [h.host, h.action])).toEqual([
      ['compute1', 'blocked-storm-brake'], ['compute2', 'blocked-storm-brake'], ['compute3', 'blocked-storm-brake'],
    ]);
    expect(w.incidents.opened).toHaveLength(0);
    expect(w.notifier.events.filter((e) => e.type === 'storm-brake')).toHaveLength(1);
  });

  it('a host that comes back between rounds gets no incident', async () => {
    const w = await world();
    const d = w.detector();
    await rounds(w, d, 2);
    await w.control('compute1', 'power-off');
    await w.advance(4);
    const [r1] = await rounds(w, d, 1);
    expect(verdictOf(r1!, 'compute1')).toBe('suspect');
    await w.control('compute1', 'power-on');
    const rs = await rounds(w, d, 4);
    for (const r of rs) expect(verdictOf(r, 'compute1')).not.toBe('dead');
    expect(verdictOf(rs.at(-1)!, 'compute1')).toBe('healthy');
    expect(w.incidents.opened).toHaveLength(0);
  });
});

describe('two controllers sharing one Redis', () => {
  let redisServer: RedisServer;
  const clients: Redis[] = [];
  beforeAll(async () => {
    redisServer = await startRedis();
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await redisServer?.stop();
  });

  it('one leader, one incident; the standby reports the same verdict but opens nothing', async () => {
    const w = await world();
    const mk = (owner: string) => {
      const redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
      clients.push(redis);
      return w.detector({ redis, owner });
    };
    const a = mk('replica-a');
    const b = mk('replica-b');
    await w.advance(1);
    const [ra, rb] = await Promise.all([a.runRound(), b.runRound()]);
    expect([ra!.leader, rb!.leader].filter(Boolean)).toHaveLength(1);
    await w.control('compute2', 'power-off');
    let standbyDead = false;
    for (let i = 0; i < 8 && !(w.incidents.opened.length > 0 && standbyDead); i++) {
      await w.advance(1);
      const [x, y] = await Promise.all([a.runRound(), b.runRound()]);
      const standby = x!.leader ? y! : x!;
      const h = standby.hosts.find((r) => r.host === 'compute2')!;
      if (h.verdict === 'dead') {
        standbyDead = true;
        // The standby never opens; once the leader has, it sees the incident like anyone else.
        expect(['blocked-standby', 'incident-already-open']).toContain(h.action);
      }
    }
    expect(standbyDead).toBe(true);
    expect(w.incidents.opened.map((o) => o.host)).toEqual(['compute2']);
    await a.stop();
    await b.stop();
  });
});
