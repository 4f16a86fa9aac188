import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { createMetrics } from '../../../src/metrics/metrics.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDetector, type DetectorDeps } from '../../../src/detector/detector.js';
import { resume } from '../../../src/detector/storm-brake-store.js';
import type { DetectorMetrics, IncidentOpenRequest, IncidentOpener, Prober, ProbeResult } from '../../../src/detector/types.js';
import type { DetectorConfig, HostConfig } from '../../../src/config/types.js';
import type { NotificationEvent, NotificationService } from '../../../src/notifier/types.js';
import { CmphaError } from '../../../src/shared/errors.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { FakeNova } from '../../helpers/fake-nova.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { testConfig } from './test-config.js';
import { captureLogger } from '../openstack/cloud.js';

/** Answers from a table the test edits; records every call. */
class ScriptedProber implements Prober {
  readonly kind = 'scripted';
  readonly alive = new Set<string>();
  readonly calls: string[][] = [];
  failNext: Error | null = null;
  inFlight = 0;
  maxInFlight = 0;
  async probe(ips: readonly string[]): Promise<Map<string, ProbeResult>> {
    this.calls.push([...ips]);
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((r) => setTimeout(r, 5));
    this.inFlight -= 1;
    if (this.failNext) {
      const e = this.failNext;
      this.failNext = null;
      throw e;
    }
    return new Map(ips.map((ip) => [ip, this.alive.has(ip) ? 'alive' : 'silent']));
  }
}

class RecordingIncidents implements IncidentOpener {
  readonly opened: IncidentOpenRequest[] = [];
  readonly ids = new Set<string>();
  async hasOpenIncident(host: string): Promise<boolean> {
    return this.opened.some((o) => o.host === host);
  }
  async open(req: IncidentOpenRequest): Promise<{ created: boolean }> {
    if (this.ids.has(req.id)) return { created: false };
    this.ids.add(req.id);
    this.opened.push(req);
    return { created: true };
  }
}

class RecordingNotifier implements NotificationService {
  readonly events: NotificationEvent[] = [];
  async notify(event: NotificationEvent) {
    this.events.push(event);
    return [];
  }
  types(): string[] {
    return this.events.map((e) => `${e.type}${e.host ? `:${e.host}` : ''}`);
  }
}

const T0 = 1_700_000_000_000;

interface Cloud {
  nova: FakeNova;
  prober: ScriptedProber;
  clock: { t: number; now(): number };
  incidents: RecordingIncidents;
  notifier: RecordingNotifier;
  /** Host `i` has mgmt IP 198.18.0.(10+i) and one server at 198.18.1.(10+i) on `tenant`. */
  up(host: string): void;
  powerOff(host: string): void;
  tick(ms?: number): void;
  detector(detector?: Partial<DetectorConfig>, extra?: Partial<DetectorDeps>, hosts?: Record<string, Partial<HostConfig>>): ReturnType<typeof createDetector>;
}

let prefixN = 0;
function cloud(hostCount = 4): Cloud {
  const nova = new FakeNova();
  const prober = new ScriptedProber();
  const clock = { t: T0, now() { return this.t; } };
  const names = Array.from({ length: hostCount }, (_, i) => `c${i + 1}`);
  const ip = (h: string) => `198.18.0.${10 + names.indexOf(h)}`;
  const vm = (h: string) => `198.18.1.${10 + names.indexOf(h)}`;
  for (const h of names) {
    nova.addHost(h, { hostIp: ip(h), updatedAt: new Date(T0), zone: 'nova' });
    nova.addServer(h, `vm-${h}`, [{ network: 'tenant', addr: vm(h) }, { network: 'other', addr: `10.9.9.${names.indexOf(h)}` }]);
    prober.alive.add(ip(h));
    prober.alive.add(vm(h));
  }
  const c: Cloud = {
    nova, prober, clock, incidents: new RecordingIncidents(), notifier: new RecordingNotifier(),
    up(h) {
      prober.alive.add(ip(h));
      prober.alive.add(vm(h));
      Object.assign(nova.host(h), { state: 'up', updatedAt: new Date(clock.t) });
    },
    powerOff(h) {
      prober.alive.delete(ip(h));
      prober.alive.delete(vm(h));
      nova.host(h).state = 'down';
    },
    tick(ms = 10_000) {
      clock.t += ms;
      // Live computes keep reporting.
      for (const h of nova.hosts.values()) if (h.state === 'up' && prober.alive.has(ip(h.name))) h.updatedAt = new Date(clock.t);
    },
    detector(detector = {}, extra = {}, hosts = {}) {
      return createDetector({
        config: testConfig(detector, hosts, `det-unit-${process.pid}-${++prefixN}`),
        nova, prober, clock, logger: silentLogger, incidents: c.incidents, notifier: c.notifier, ...extra,
      });
    },
  };
  return c;
}

const verdicts = (r: { hosts: readonly { host: string; verdict: string }[] }) => Object.fromEntries(r.hosts.map((h) => [h.host, h.verdict]));

describe('detector round', () => {
  it('makes one Nova services call and one probe per healthy round, and lists hypervisors only now and then', async () => {
    const c = cloud(3);
    const d = c.detector();
    for (let i = 0; i < 5; i++) {
      const r = await d.runRound();
      expect(verdicts(r)).toEqual({ c1: 'healthy', c2: 'healthy', c3: 'healthy' });
      c.tick();
    }
    expect(c.nova.callsTo('listComputeServices')).toHaveLength(5);
    expect(c.nova.callsTo('listHypervisors')).toHaveLength(1);
    expect(c.prober.calls).toHaveLength(5);
    // Every round probes every management IP; baseline instance addresses ride along on the first round.
    for (const call of c.prober.calls) expect(call).toEqual(expect.arrayContaining(['198.18.0.10', '198.18.0.11', '198.18.0.12']));
    expect(c.prober.calls[0]).toEqual(expect.arrayContaining(['198.18.1.10', '198.18.1.11', '198.18.1.12']));
    // Only addresses on instance_networks are probed.
    expect(c.prober.calls.flat().some((ip) => ip.startsWith('10.9.9.'))).toBe(false);
    expect(c.incidents.opened).toHaveLength(0);
    expect(c.notifier.events).toHaveLength(0);
  });

  it('prefers [host] mgmt_ip and never lists hypervisors when every host has one', async () => {
    const c = cloud(2);
    const d = c.detector({}, {}, { c1: { mgmtIp: '198.18.5.1' }, c2: { mgmtIp: '198.18.5.2' } });
    c.prober.alive.add('198.18.5.1');
    const r = await d.runRound();
    expect(c.nova.callsTo('listHypervisors')).toHaveLength(0);
    expect(r.hosts.find((h) => h.host === 'c1')!.evidence.mgmt).toMatchObject({ ip: '198.18.5.1', source: 'config', result: 'alive' });
    expect(r.hosts.find((h) => h.host === 'c2')!.evidence.mgmt).toMatchObject({ ip: '198.18.5.2', result: 'silent' });
  });

  it('opens exactly one incident for a powered-off host after confirm_rounds, with a deterministic id', async () => {
    const c = cloud(4);
    const d = c.detector();
    await d.runRound();
    c.tick();
    c.powerOff('c2');
    const suspectAt = c.clock.t;
    const r1 = await d.runRound();
    expect(r1.hosts.find((h) => h.host === 'c2')).toMatchObject({ verdict: 'suspect', action: 'wait-confirm' });
    expect(c.incidents.opened).toHaveLength(0);
    c.tick();
    const r2 = await d.runRound();
    const c2 = r2.hosts.find((h) => h.host === 'c2')!;
    expect(c2).toMatchObject({ verdict: 'dead', action: 'open-incident', incidentId: `c2-${suspectAt / 1000}` });
    expect(c.incidents.opened).toHaveLength(1);
    expect(c.incidents.opened[0]).toMatchObject({ id: `c2-${suspectAt / 1000}`, host: 'c2', failureStartedAt: suspectAt });
    expect(c.incidents.opened[0]!.evidence.instances).toMatchObject({ baselineTotal: 1, baselineSilent: 1 });
    for (let i = 0; i < 3; i++) {
      c.tick();
      const r = await d.runRound();
      expect(r.hosts.find((h) => h.host === 'c2')).toMatchObject({ verdict: 'dead', action: 'incident-already-open' });
    }
    expect(c.incidents.opened).toHaveLength(1);
    expect(verdicts(r2)).toMatchObject({ c1: 'healthy', c3: 'healthy', c4: 'healthy' });
  });

  it('probes instance addresses only for hosts under suspicion', async () => {
    const c = cloud(3);
    // No periodic baseline refresh falls in this test's rounds.
    const d = c.detector({}, { tuning: { baselineEveryRounds: 1000 } });
    await d.runRound();
    c.tick();
    const listed = c.nova.callsTo('listServersOnHost').length;
    c.powerOff('c3');
    await d.runRound();
    const after = c.nova.callsTo('listServersOnHost').slice(listed).map((x) => x.args[0]);
    expect(after).toEqual(['c3']);
    expect(c.prober.calls.at(-1)).toEqual(['198.18.1.12']);
  });

  it('never fences a host whose agent died but which answers: agent-down, alerted once', async () => {
    const c = cloud(4);
    const d = c.detector();
    await d.runRound();
    c.nova.host('c1').state = 'down';
    for (let i = 0; i < 4; i++) {
      c.tick();
      const r = await d.runRound();
      expect(r.hosts.find((h) => h.host === 'c1')).toMatchObject({ verdict: 'agent-down', action: 'alert' });
    }
    expect(c.incidents.opened).toHaveLength(0);
    expect(c.notifier.types()).toEqual(['agent-down:c1']);
  });

  it('calls a host whose management IP is silent but whose instances answer isolated-mgmt, never dead', async () => {
    const c = cloud(4);
    const d = c.detector();
    await d.runRound();
    c.prober.alive.delete('198.18.0.10');
    c.nova.host('c1').state = 'down';
    for (let i = 0; i < 4; i++) {
      c.tick();
      const r = await d.runRound();
      expect(r.hosts.find((h) => h.host === 'c1')!.verdict).toBe('isolated-mgmt');
    }
    expect(c.incidents.opened).toHaveLength(0);
    expect(c.notifier.types()).toEqual(['isolated-mgmt:c1']);
  });

  it('does not count silence from an instance address that never answered while its host was healthy', async () => {
    const c = cloud(4);
    c.prober.alive.delete('198.18.1.10'); // firewalled from the start
    const d = c.detector();
    await d.runRound();
    c.tick();
    c.powerOff('c1');
    await d.runRound();
    c.tick();
    const r = await d.runRound();
    const h = r.hosts.find((x) => x.host === 'c1')!;
    expect(h.verdict).toBe('dead');
    expect(h.evidence.instances.addresses).toEqual([expect.objectContaining({ ip: '198.18.1.10', baseline: false, result: 'silent' })]);
    expect(h.evidence.instances.note).toContain('none ever answered while the host was healthy');
  });

  it('ignores a disabled host that is powered off, and a spare', async () => {
    const c = cloud(4);
    Object.assign(c.nova.host('c4'), { status: 'disabled', disabledReason: 'down_prepare' });
    const d = c.detector();
    await d.runRound();
    Object.assign(c.nova.host('c3'), { status: 'disabled', disabledReason: 'maintenance' });
    c.powerOff('c3');
    c.powerOff('c4');
    for (let i = 0; i < 3; i++) {
      c.tick();
      const r = await d.runRound();
      expect(verdicts(r)).toMatchObject({ c3: 'maintenance', c4: 'maintenance' });
    }
    expect(c.incidents.opened).toHaveLength(0);
    expect(c.notifier.events).toHaveLength(0);
    // Disabled hosts are not even probed.
    expect(c.prober.calls.at(-1)).not.toContain('198.18.0.12');
  });

  it('refreshes the baseline of healthy hosts a few at a time', async () => {
    const c = cloud(6);
    const d = c.detector({}, { tuning: { baselineEveryRounds: 3 } });
    await d.runRound();
    const perRound: string[][] = [];
    for (let i = 0; i < 6; i++) {
      c.tick();
      const before = c.nova.callsTo('listServersOnHost').length;
      await d.runRound();
      perRound.push(c.nova.callsTo('listServersOnHost').slice(before).map((x) => String(x.args[0])));
    }
    // Each host once per three rounds, never all of them in one round.
    for (const h of ['c1', 'c2', 'c3', 'c4', 'c5', 'c6']) expect(perRound.flat().filter((x) => x === h)).toHaveLength(2);
    for (const hosts of perRound) expect(hosts.length).toBeLessThan(6);
  });

  it('opens no incident for a host that comes back between rounds', async () => {
    const c = cloud(4);
    const d = c.detector();
    await d.runRound();
    c.tick();
    c.powerOff('c2');
    expect(verdicts(await d.runRound()).c2).toBe('suspect');
    c.up('c2');
    c.tick();
    expect(verdicts(await d.runRound()).c2).toBe('healthy');
    c.tick();
    expect(verdicts(await d.runRound()).c2).toBe('healthy');
    expect(c.incidents.opened).toHaveLength(0);
  });

  it('confirms nothing in a round whose probe failed', async () => {
    const c = cloud(4);
    const d = c.detector();
    await d.runRound();
    c.tick();
    c.powerOff('c2');
    await d.runRound();
    c.tick();
    c.prober.failNext = new CmphaError('probe_failed', 'fping exited with 4');
    const r = await d.runRound();
    expect(r.probeFailed).toContain('fping exited with 4');
    expect(r.hosts.find((h) => h.host === 'c2')).toMatchObject({ verdict: 'suspect', evidence: { mgmt: { result: 'probe-failed' } } });
    expect(c.incidents.opened).toHaveLength(0);
  });

  it('in dry run decides everything but opens nothing', async () => {
    const c = cloud(4);
    const d = c.detector({ dryRun: true });
    await d.runRound();
    c.powerOff('c2');
    c.tick();
    await d.runRound();
    c.tick();
    const r = await d.runRound();
    expect(r.dryRun).toBe(true);
    expect(r.hosts.find((h) => h.host === 'c2')).toMatchObject({ verdict: 'dead', action: 'would-open-incident', incidentId: expect.stringMatching(/^c2-\d+$/) });
    expect(c.incidents.opened).toHaveLength(0);
  });

  it('reports the controller isolated when no isolation address answers, and opens nothing', async () => {
    const c = cloud(4);
    const d = c.detector({ isolationAddresses: ['198.18.200.1', '198.18.200.2'] });
    c.prober.alive.add('198.18.200.2');
    expect((await d.runRound()).isolated).toBe(false);
    c.prober.alive.delete('198.18.200.2');
    c.powerOff('c1');
    for (let i = 0; i < 3; i++) {
      c.tick();
      const r = await d.runRound();
      expect(r.isolated).toBe(true);
      expect(r.isolationReason).toContain('none of the isolation addresses answer');
      expect(r.hosts.find((h) => h.host === 'c1')!.verdict).toBe('suspect');
    }
    expect(c.incidents.opened).toHaveLength(0);
    expect(c.notifier.types()).toContain('controller-isolated');
    expect(c.notifier.types().filter((t) => t === 'controller-isolated')).toHaveLength(1);
  });

  it('reports the controller isolated when the Nova API cannot be reached', async () => {
    const c = cloud(2);
    const d = c.detector();
    c.nova.failNext('listComputeServices', new Error('connect ECONNREFUSED'));
    const r = await d.runRound();
    expect(r).toMatchObject({ isolated: true, hosts: [] });
    expect(r.isolationReason).toContain('cannot reach the Nova API: connect ECONNREFUSED');
    expect(c.prober.calls).toHaveLength(0);
  });

  it('reports the storm brake on while isolated (gauge and report), and back off once the controller sees again', async () => {
    const registry = new Registry();
    const metrics: DetectorMetrics = createMetrics(registry);
    const c = cloud(4);
    const d = c.detector({ isolationAddresses: ['198.18.200.1'] }, { metrics });
    c.prober.alive.add('198.18.200.1');
    expect((await d.runRound()).stormBrake.active).toBe(false);
    c.prober.alive.delete('198.18.200.1');
    c.tick();
    const r = await d.runRound();
    expect(r.isolated).toBe(true);
    expect(r.stormBrake).toMatchObject({ active: true, reason: expect.stringContaining('controller isolated: none of the isolation addresses answer') });
    expect(await registry.metrics()).toMatch(/^cmpha_storm_brake_active 1$/m);
    expect(await registry.metrics()).toMatch(/^cmpha_controller_isolated 1$/m);
    c.prober.alive.add('198.18.200.1');
    c.tick();
    expect((await d.runRound()).stormBrake.active).toBe(false);
    expect(await registry.metrics()).toMatch(/^cmpha_storm_brake_active 0$/m);
  });

  it('says once, not every round, that a closed incident for a dead host is not reopened', async () => {
    const { logger, lines } = captureLogger();
    const c = cloud(4);
    const closed: IncidentOpener = { hasOpenIncident: async () => false, open: async () => ({ created: false }) };
    const d = c.detector({}, { incidents: closed, logger });
    await d.runRound();
    c.powerOff('c2');
    for (let i = 0; i < 6; i++) {
      c.tick();
      await d.runRound();
    }
    const told = lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.msg.startsWith('incident already exists'));
    expect(told.filter((l) => l.level >= 40)).toHaveLength(1);
    expect(told.length).toBeGreaterThan(1);
  });

  it('runs rounds one after another even when called concurrently', async () => {
    const c = cloud(3);
    const d = c.detector();
    const rs = await Promise.all([d.runRound(), d.runRound(), d.runRound()]);
    expect(rs.map((r) => r.round)).toEqual([1, 2, 3]);
    expect(c.prober.maxInFlight).toBe(1);
  });

  it('writes the metrics into real prom-client objects', async () => {
    const registry = new Registry();
    // The project's own metrics object, passed as is.
    const metrics: DetectorMetrics = createMetrics(registry);
    const c = cloud(3);
    const d = c.detector({}, { metrics });
    await d.runRound();
    c.nova.host('c3').state = 'down';
    c.tick();
    await d.runRound();
    const text = await registry.metrics();
    expect(text).toMatch(/^cmpha_detector_rounds_total 2$/m);
    expect(text).toContain('cmpha_hosts{verdict="healthy",zone="nova"} 2');
    expect(text).toContain('cmpha_hosts{verdict="agent-down",zone="nova"} 1');
    expect(text).toContain('cmpha_agent_down_hosts 1');
    expect(text).toContain('cmpha_leader 1');
    expect(text).toContain(`cmpha_detector_last_round_timestamp_seconds ${(T0 + 10_000) / 1000}`);
  });
});

describe('detector guards with Redis', () => {
  let server: RedisServer;
  let redis: Redis;
  beforeAll(async () => {
    server = await startRedis();
    redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });
  beforeEach(() => { prefixN += 1; });

  it('applies the storm brake when three of four hosts die, alerts once, and resumes on `cmpha resume`', async () => {
    const c = cloud(4);
    const config = testConfig({}, {}, `storm-${process.pid}-${prefixN}`);
    const d = createDetector({ config, nova: c.nova, prober: c.prober, clock: c.clock, logger: silentLogger, redis, incidents: c.incidents, notifier: c.notifier });
    await d.runRound();
    for (const h of ['c1', 'c2', 'c3']) c.powerOff(h);
    for (let i = 0; i < 4; i++) {
      c.tick();
      const r = await d.runRound();
      expect(r.stormBrake.active).toBe(true);
    }
    const last = await d.runRound();
    expect(last.hosts.filter((h) => h.verdict === 'dead').map((h) => h.action)).toEqual(['blocked-storm-brake', 'blocked-storm-brake', 'blocked-storm-brake']);
    expect(last.stormBrake.reason).toContain('3 hosts look dead or suspect');
    expect(c.incidents.opened).toHaveLength(0);
    expect(c.notifier.types().filter((t) => t === 'storm-brake')).toHaveLength(1);
    expect(JSON.parse((await redis.get(`${config.redis.prefix}:detector:storm-brake`))!)).toMatchObject({ active: true });

    const info = await resume(redis, config.redis.prefix);
    expect(info.brakeActive).toBe(true);
    c.tick();
    const after = await d.runRound();
    expect(after.stormBrake).toMatchObject({ active: false, overridden: true });
    expect(c.incidents.opened.map((o) => o.host).sort()).toEqual(['c1', 'c2', 'c3']);
  });

  it('releases the brake by itself when the count falls back', async () => {
    const c = cloud(4);
    const config = testConfig({}, {}, `storm2-${process.pid}-${prefixN}`);
    const d = createDetector({ config, nova: c.nova, prober: c.prober, clock: c.clock, logger: silentLogger, redis, incidents: c.incidents });
    await d.runRound();
    for (const h of ['c1', 'c2', 'c3']) c.powerOff(h);
    c.tick();
    expect((await d.runRound()).stormBrake.active).toBe(true);
    c.up('c2');
    c.up('c3');
    c.tick();
    const r = await d.runRound();
    expect(r.stormBrake.active).toBe(false);
    c.tick();
    await d.runRound();
    expect(c.incidents.opened.map((o) => o.host)).toEqual(['c1']);
  });

  it('lets only the leader of two replicas open the incident; the standby takes over when the lease lapses', async () => {
    const c = cloud(4);
    const config = testConfig({ leaderLeaseMs: 2000 }, {}, `lead-${process.pid}-${prefixN}`);
    const mk = (owner: string) => createDetector({ config, nova: c.nova, prober: c.prober, clock: c.clock, logger: silentLogger, redis, incidents: c.incidents, notifier: c.notifier, owner });
    const a = mk('a');
    const b = mk('b');
    const first = await Promise.all([a.runRound(), b.runRound()]);
    expect(first.map((r) => r.leader).filter(Boolean)).toHaveLength(1);
    const [leader, standby] = first[0]!.leader ? [a, b] : [b, a];
    c.powerOff('c2');
    for (let i = 0; i < 2; i++) {
      c.tick();
      await leader.runRound();
      const s = await standby.runRound();
      expect(s.leader).toBe(false);
      if (i === 1) expect(s.hosts.find((h) => h.host === 'c2')).toMatchObject({ verdict: 'dead' });
    }
    expect(c.incidents.opened).toHaveLength(1);
    expect(c.notifier.types().filter((t) => t === 'host-suspected:c2')).toHaveLength(1);

    // The leader stops; its lease is given up and the standby leads at its next round.
    await leader.stop();
    c.tick();
    expect((await standby.runRound()).leader).toBe(true);
    expect(c.incidents.opened).toHaveLength(1);
  });
});

describe('detector loop', () => {
  it('runs rounds on its interval until stopped', async () => {
    const c = cloud(2);
    const d = createDetector({ config: testConfig({ intervalMs: 20 }), nova: c.nova, prober: c.prober, logger: silentLogger });
    d.start();
    const deadline = Date.now() + 5000;
    while (c.nova.callsTo('listComputeServices').length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await d.stop();
    const n = c.nova.callsTo('listComputeServices').length;
    expect(n).toBeGreaterThanOrEqual(3);
    await new Promise((r) => setTimeout(r, 60));
    expect(c.nova.callsTo('listComputeServices').length).toBe(n);
  });
});
