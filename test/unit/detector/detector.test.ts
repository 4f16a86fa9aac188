import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { createMetrics } from '../../../src/metrics/metrics.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDetector, type DetectorDeps } from '../../../src/detector/detector.js';
import { resume } from '../../../src/detector/storm-brake-store.js';
import type { DetectorMetrics, HostEvidence, IncidentOpener, Prober, ProbeResult } from '../../../src/detector/types.js';
import type { IncidentStatus } from '../../../src/incidents/types.js';
import type { DetectorConfig, HostConfig } from '../../../src/config/types.js';
import type { NotificationEvent, NotificationService } from '../../../src/notifier/types.js';
import { CmphaError } from '../../../src/shared/errors.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { FakeNova } from '../../helpers/fake-nova.js';
import { computeOf } from '../../helpers/compute.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { testConfig } from './test-config.js';
import { captureLogger } from '../openstack/cloud.js';
import { RecordingIncidents } from '../../helpers/recording-incidents.js';

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
    nova, prober, clock, incidents: new RecordingIncidents(() => clock.now()), notifier: new RecordingNotifier(),
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
        compute: computeOf(nova), prober, clock, logger: silentLogger, incidents: c.incidents, notifier: c.notifier, ...extra,
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
    // With its instance no evidence, the management network is the host's only signal: 30 s of silence.
    for (let i = 0; i < 2; i++) {
      c.tick();
      expect((await d.runRound()).hosts.find((x) => x.host === 'c1')!.verdict).toBe('suspect');
    }
    c.tick();
    const r = await d.runRound();
    const h = r.hosts.find((x) => x.host === 'c1')!;
    expect(h.verdict).toBe('dead');
    expect(h.evidence).toMatchObject({ signals: 1, silenceNeededMs: 30_000, silentForMs: 30_000 });
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

  it('baselines a server Nova reports new on a healthy host at once, even when that round could not read the services', async () => {
    const c = cloud(3);
    // No periodic baseline refresh falls in this test's rounds.
    const d = c.detector({}, { tuning: { baselineEveryRounds: 1000 } });
    await d.runRound();
    c.tick();
    await d.runRound();
    const late = c.nova.addServer('c2', 'late', [{ network: 'tenant', addr: '198.18.1.99' }]);
    (late as { updatedAt?: Date }).updatedAt = new Date(c.clock.t);
    c.prober.alive.add('198.18.1.99');
    c.tick();
    c.nova.failNext('listComputeServices', new Error('Nova answered 503'));
    expect((await d.runRound()).isolated).toBe(true);
    const listed = c.nova.callsTo('listServersOnHost').length;
    c.tick();
    await d.runRound();
    expect(c.nova.callsTo('listServersOnHost').slice(listed).map((x) => x.args[0])).toEqual(['c2']);

    c.tick();
    c.powerOff('c2');
    c.prober.alive.delete('198.18.1.99');
    await d.runRound();
    c.tick();
    await d.runRound();
    expect(c.incidents.opened.map((o) => o.host)).toEqual(['c2']);
    expect(c.incidents.opened[0]!.evidence.instances.addresses).toContainEqual(expect.objectContaining({ ip: '198.18.1.99', server: 'late', baseline: true, result: 'silent' }));
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
    const closed: IncidentOpener = {
      openIncidents: async () => [], openedSince: async () => [], incident: async () => null, open: async () => ({ created: false }),
      hostShowedLife: async () => ({ aborted: false }), note: async () => undefined,
    };
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

/** Rounds 10 s apart after c2 loses power, until it is judged dead; the last report for c2. */
async function c2Dead(c: Cloud, d: ReturnType<typeof createDetector>) {
  await d.runRound();
  c.powerOff('c2');
  for (let i = 0; i < 4; i++) {
    c.tick();
    const r = (await d.runRound()).hosts.find((h) => h.host === 'c2')!;
    if (r.verdict === 'dead') return r;
  }
  throw new Error('c2 never judged dead');
}

const pages = (c: Cloud, host = 'c2') => c.notifier.events.filter((e) => e.host === host && e.severity === 'critical');

// Every way a dead verdict can end in no new incident, and the page each one sends: a dead host is never
// ignored in silence (issue 24). Isolation and a blind detector leave no host dead (nothing can be confirmed),
// and page for the controller itself (tests above).
describe('a dead verdict that opens no new incident pages', () => {
  it('its incident waits for a fence: said once in the log, the timeline and a page naming the incident', async () => {
    const { logger, lines } = captureLogger();
    const c = cloud(4);
    const d = c.detector({}, { logger });
    const opened = await c2Dead(c, d);
    expect(opened.action).toBe('open-incident');
    c.incidents.setStatus(opened.incidentId!, 'awaiting_fence');
    for (let i = 0; i < 3; i++) {
      c.tick();
      expect((await d.runRound()).hosts.find((h) => h.host === 'c2')).toMatchObject({ verdict: 'dead', action: 'incident-waiting', incidentId: opened.incidentId });
    }
    expect(pages(c)).toHaveLength(1);
    expect(pages(c)[0]).toMatchObject({ type: 'host-suspected', incidentId: opened.incidentId, summary: expect.stringMatching(/c2 is judged dead, and its incident \S+ is awaiting_fence: nothing is done/) });
    expect(c.incidents.notes).toEqual([{ id: opened.incidentId, level: 'critical', message: pages(c)[0]!.summary }]);
    expect(lines.filter((l) => l.includes('is judged dead, and its incident'))).toHaveLength(1);
  });

  it('its incident is closed (failed) for this failure: not reopened, paged once', async () => {
    const c = cloud(4);
    const d = c.detector();
    const opened = await c2Dead(c, d);
    c.incidents.setStatus(opened.incidentId!, 'failed');
    for (let i = 0; i < 3; i++) {
      c.tick();
      expect((await d.runRound()).hosts.find((h) => h.host === 'c2')).toMatchObject({ verdict: 'dead', action: 'incident-exists' });
    }
    expect(pages(c).map((e) => e.summary)).toEqual([expect.stringMatching(/c2 is judged dead, but its incident \S+ for this failure is failed: it is not reopened/)]);
  });

  it('the storm brake is on', async () => {
    const c = cloud(4);
    const d = c.detector({ maxDeadHosts: 0, maxDeadFraction: 1 });
    const r = await c2Dead(c, d);
    expect(r.action).toBe('blocked-storm-brake');
    expect(c.notifier.types()).toContain('storm-brake');
    expect(pages(c).map((e) => e.summary)).toEqual([expect.stringMatching(/c2 is confirmed dead but no incident was opened \(blocked-storm-brake\)/)]);
  });

  it('the host is opted out of HA in the config (ha = false): held back whatever else holds, paged once saying why; `cmpha check` shows the same', async () => {
    for (const extra of [{}, { incidents: undefined }]) {
      const c = cloud(4);
      const d = c.detector({}, extra, { c2: { ha: false } });
      const r = await c2Dead(c, d);
      expect(r).toMatchObject({ verdict: 'dead', action: 'blocked-ha-off', held: 'c2 is opted out of HA in the config ([host:c2] ha = false)' });
      c.tick();
      expect((await d.runRound()).hosts.find((h) => h.host === 'c2')!.action).toBe('blocked-ha-off');
      expect(c.incidents.opened).toEqual([]);
      expect(pages(c).map((e) => e.summary)).toEqual([expect.stringMatching(/^c2 is confirmed dead and is not recovered: c2 is opted out of HA in the config \(\[host:c2\] ha = false\)\. Nothing is fenced or evacuated/)]);
    }
  });

  it('opening the incident fails', async () => {
    const c = cloud(4);
    const failing = Object.assign(new RecordingIncidents(), { open: async () => { throw new Error('READONLY You can\'t write against a read only replica'); } });
    const d = c.detector({}, { incidents: failing });
    expect((await c2Dead(c, d)).action).toBe('open-failed');
    expect(pages(c).map((e) => e.summary)).toEqual([expect.stringMatching(/no incident was opened \(open-failed\)/)]);
  });

  it('the open incidents cannot be read', async () => {
    const c = cloud(4);
    const failing = Object.assign(new RecordingIncidents(), { openIncidents: async () => { throw new Error('connection lost'); } });
    const d = c.detector({}, { incidents: failing });
    expect((await c2Dead(c, d)).action).toBe('open-failed');
    expect(pages(c).map((e) => e.summary)).toEqual([expect.stringMatching(/no incident was opened \(open-failed\)/)]);
  });

  it('dry run, or no incident store (`cmpha check`)', async () => {
    for (const [cfg, extra] of [[{ dryRun: true }, {}], [{}, { incidents: undefined }]] as const) {
      const c = cloud(4);
      const d = c.detector(cfg, extra);
      expect((await c2Dead(c, d)).action).toBe('would-open-incident');
      expect(pages(c).map((e) => e.summary)).toEqual([expect.stringMatching(/no incident was opened \(would-open-incident\)/)]);
    }
  });

  it('its incident is recovering it: said once in the log and the timeline, no page (the recovery reports)', async () => {
    const c = cloud(4);
    const d = c.detector();
    const opened = await c2Dead(c, d);
    c.incidents.setStatus(opened.incidentId!, 'fencing');
    for (let i = 0; i < 3; i++) {
      c.tick();
      expect((await d.runRound()).hosts.find((h) => h.host === 'c2')).toMatchObject({ verdict: 'dead', action: 'incident-already-open' });
    }
    expect(pages(c)).toEqual([]);
    expect(c.incidents.notes).toEqual([{ id: opened.incidentId, level: 'info', message: expect.stringMatching(/c2 is judged dead; its incident \S+ \(fencing\) is recovering it/) }]);
  });
});

describe('an incident waiting for a fence watches its host', () => {
  it('closes it aborted when the host answers again, and a later failure gets a new incident', async () => {
    const c = cloud(4);
    const d = c.detector();
    const opened = await c2Dead(c, d);
    c.incidents.setStatus(opened.incidentId!, 'awaiting_fence');
    c.tick();
    await d.runRound();
    c.prober.alive.add('198.18.0.11'); // c2's management address, nova-compute still down
    c.tick();
    const back = (await d.runRound()).hosts.find((h) => h.host === 'c2')!;
    expect(back).toMatchObject({ action: 'incident-aborted', incidentId: opened.incidentId });
    expect(c.incidents.life).toEqual([{ id: opened.incidentId, what: 'management IP 198.18.0.11 answers', at: c.clock.t }]);
    c.prober.alive.delete('198.18.0.11');
    for (let i = 0; i < 3; i++) {
      c.tick();
      await d.runRound();
    }
    expect(c.incidents.opened.map((o) => [o.host, o.status])).toEqual([['c2', 'aborted'], ['c2', 'open']]);
    expect(c.incidents.opened[1]!.id).not.toBe(opened.incidentId);
  });

  it('closes it aborted when Nova\'s heartbeat moves, but not on an admin write to the service', async () => {
    const c = cloud(4);
    const d = c.detector();
    const opened = await c2Dead(c, d);
    c.incidents.setStatus(opened.incidentId!, 'awaiting_fence');
    // An operator disables the dead host: updated_at moves with the status, no heartbeat.
    Object.assign(c.nova.host('c2'), { status: 'disabled', disabledReason: 'looking at it', updatedAt: new Date(c.clock.t) });
    c.tick();
    expect((await d.runRound()).hosts.find((h) => h.host === 'c2')!.action).not.toBe('incident-aborted');
    Object.assign(c.nova.host('c2'), { status: 'enabled', disabledReason: null, updatedAt: new Date(c.clock.t) });
    c.tick();
    expect((await d.runRound()).hosts.find((h) => h.host === 'c2')!.action).not.toBe('incident-aborted');
    expect(c.incidents.life).toEqual([]);
    // nova-compute reports again (the addresses stay silent): a heartbeat.
    c.nova.host('c2').updatedAt = new Date(c.clock.t);
    c.tick();
    expect((await d.runRound()).hosts.find((h) => h.host === 'c2')!.action).toBe('incident-aborted');
    expect(c.incidents.life[0]!.what).toMatch(/^Nova's heartbeat moved \(updated_at /);
  });
});

// A host leaves the dead count once its own recovery disables it, or once that recovery closes: its incident keeps
// it counted for a minute from its opening (issue 24), so a storm whose first host is already recovered still
// trips. An aborted incident does not count (its host was alive), nor one opened longer ago.
describe('the storm brake counts a host whose incident opened within the last minute, closed or not', () => {
  const cases: Array<[IncidentStatus, number, string]> = [
    ['resolved', 0, 'blocked-storm-brake'],
    ['failed', 0, 'blocked-storm-brake'],
    ['aborted', 0, 'open-incident'],
    ['resolved', 60_000, 'open-incident'],
  ];
  it.each(cases)('c1\'s incident %s, opened %i ms before c2 lost power: c2 is %s', async (status, ageMs, action) => {
    const c = cloud(6);
    const d = c.detector({ maxDeadHosts: 1, maxDeadFraction: 1 });
    const openedAt = c.clock.t - ageMs;
    c.incidents.opened.push({ id: `c1-${openedAt}`, host: 'c1', failureStartedAt: openedAt, evidence: {} as HostEvidence, openedAt, status });
    const r = await c2Dead(c, d);
    expect(r.action).toBe(action);
    expect(c.notifier.types().includes('storm-brake')).toBe(action === 'blocked-storm-brake');
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
    const d = createDetector({ config, compute: computeOf(c.nova), prober: c.prober, clock: c.clock, logger: silentLogger, redis, incidents: c.incidents, notifier: c.notifier });
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

  it('does not brake (or page) for a one-second blip that makes most hosts silent while Nova sees their heartbeats', async () => {
    const c = cloud(4);
    const config = testConfig({}, {}, `storm3-${process.pid}-${prefixN}`);
    const d = createDetector({ config, compute: computeOf(c.nova), prober: c.prober, clock: c.clock, logger: silentLogger, redis, incidents: c.incidents, notifier: c.notifier });
    await d.runRound();
    const saved = new Set(c.prober.alive);
    c.prober.alive.clear();
    c.clock.t += 1000;
    const blip = await d.runRound();
    expect(blip.hosts.map((h) => h.verdict)).toEqual(['suspect', 'suspect', 'suspect', 'suspect']);
    expect(blip.stormBrake.active).toBe(false);
    for (const ip of saved) c.prober.alive.add(ip);
    c.clock.t += 1000;
    const after = await d.runRound();
    expect(after.hosts.map((h) => h.verdict)).toEqual(['healthy', 'healthy', 'healthy', 'healthy']);
    expect(c.notifier.types().filter((t) => t === 'storm-brake')).toEqual([]);
    expect(c.incidents.opened).toHaveLength(0);
  });

  it('releases the brake by itself when the count falls back', async () => {
    const c = cloud(4);
    const config = testConfig({}, {}, `storm2-${process.pid}-${prefixN}`);
    const d = createDetector({ config, compute: computeOf(c.nova), prober: c.prober, clock: c.clock, logger: silentLogger, redis, incidents: c.incidents });
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
    const mk = (owner: string) => createDetector({ config, compute: computeOf(c.nova), prober: c.prober, clock: c.clock, logger: silentLogger, redis, incidents: c.incidents, notifier: c.notifier, owner });
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
  it('re-observes a suspect between rounds, and at least once after every round even when rounds are slow', async () => {
    for (const intervalMs of [1000, 20]) {
      const c = cloud(3);
      c.powerOff('c2');
      const kinds: string[] = [];
      const d = createDetector({
        config: testConfig({ intervalMs, probeIntervalMs: 200 }), compute: computeOf(c.nova), prober: c.prober, logger: silentLogger,
        onRound: (r) => { if (r) kinds.push(r.kind); },
      });
      d.start();
      const deadline = Date.now() + 10_000;
      while (kinds.filter((k) => k === 'round').length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      await d.stop();
      const byHost = c.nova.callsTo('listComputeServices').filter((x) => (x.args[0] as string | undefined) === 'c2').length;
      expect(kinds.filter((k) => k === 'suspect-check').length, `interval ${intervalMs}`).toBeGreaterThanOrEqual(2);
      expect(byHost).toBeGreaterThanOrEqual(2);
      if (intervalMs === 1000) expect(kinds.filter((k) => k === 'suspect-check').length).toBeGreaterThanOrEqual(kinds.filter((k) => k === 'round').length * 3);
    }
  });

  it('runs rounds on its interval until stopped', async () => {
    const c = cloud(2);
    const d = createDetector({ config: testConfig({ intervalMs: 20 }), compute: computeOf(c.nova), prober: c.prober, logger: silentLogger });
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

describe('detector between rounds: suspects timed by direct probes', () => {
  it('re-observes only the suspect, one service read and one probe each time, and opens the incident once the silence is long enough', async () => {
    const c = cloud(4);
    const d = c.detector();
    await d.runRound();
    expect(await d.runSuspectCheck()).toBeNull(); // nobody to look at
    c.tick();
    c.powerOff('c2');
    const r1 = await d.runRound();
    expect(r1.hosts.find((h) => h.host === 'c2')).toMatchObject({ verdict: 'suspect', evidence: { silentForMs: 0 } });
    const servicesBefore = c.nova.callsTo('listComputeServices').length;
    const probesBefore = c.prober.calls.length;
    const seen: string[] = [];
    for (let s = 1; s <= 5; s++) {
      c.clock.t += 1000;
      const r = (await d.runSuspectCheck())!;
      expect(r.kind).toBe('suspect-check');
      // Every host is in the report, the others as last seen.
      expect(r.hosts.map((h) => h.host)).toEqual(['c1', 'c2', 'c3', 'c4']);
      seen.push(`${r.hosts.find((h) => h.host === 'c2')!.verdict}`);
    }
    expect(seen).toEqual(['suspect', 'suspect', 'suspect', 'suspect', 'dead']);
    const reads = c.nova.callsTo('listComputeServices').slice(servicesBefore);
    expect(reads.map((x) => (x.args[0] as { host?: string } | undefined))).toEqual(Array(5).fill('c2'));
    // Five checks, each a direct probe of c2's management IP and its baseline instance address; the fifth is
    // the last look before the incident, so no sixth is needed.
    expect(c.prober.calls.slice(probesBefore)).toEqual(Array(5).fill(['198.18.0.11', '198.18.1.11']));
    expect(c.incidents.opened).toHaveLength(1);
    expect(c.incidents.opened[0]).toMatchObject({ host: 'c2', failureStartedAt: T0 + 10_000 });
    expect(await d.runSuspectCheck()).toBeNull(); // its incident is the pipeline's now
  });

  it('does not open the incident when the last direct look after a slow round finds the host alive', async () => {
    const c = cloud(4);
    const d = c.detector();
    await d.runRound();
    c.tick();
    c.powerOff('c2');
    await d.runRound();
    for (let s = 1; s <= 4; s++) {
      c.clock.t += 1000;
      await d.runSuspectCheck();
    }
    // The verdict comes from a slow full round (its probe takes 3 s, more than probe_interval): c2 is looked at
    // once more, and answers.
    const probe = c.prober.probe.bind(c.prober);
    c.prober.probe = async (ips) => {
      if (ips.length === 2 && ips[0] === '198.18.0.11' && ips[1] === '198.18.1.11') c.prober.alive.add('198.18.0.11');
      else if (ips.length > 2) c.clock.t += 3000;
      return probe(ips);
    };
    c.clock.t += 1000;
    const r = await d.runRound();
    expect(r.hosts.find((h) => h.host === 'c2')).toMatchObject({ verdict: 'dead', action: 'recheck-alive' });
    expect(c.incidents.opened).toHaveLength(0);
    c.clock.t += 1000;
    const next = (await d.runSuspectCheck())!;
    expect(next.hosts.find((h) => h.host === 'c2')!.verdict).toBe('agent-down');
    expect(c.incidents.opened).toHaveLength(0);
  });

  it('a storage_ip that answers keeps a silent host from dead', async () => {
    const c = cloud(4);
    const d = c.detector({}, {}, { c2: { storageIps: ['198.18.3.2'], tunnelIp: '198.18.4.2' } });
    c.prober.alive.add('198.18.3.2');
    await d.runRound();
    c.tick();
    c.powerOff('c2');
    c.prober.alive.add('198.18.3.2'); // only the storage network still answers
    for (let i = 0; i < 4; i++) {
      const r = await d.runRound();
      const h = r.hosts.find((x) => x.host === 'c2')!;
      expect(h.verdict).toBe('isolated-mgmt');
      expect(h.evidence.networks.map((n) => `${n.role}:${n.result}`)).toEqual(['mgmt:silent', 'storage:alive', 'tunnel:silent']);
      c.tick();
    }
    expect(c.incidents.opened).toHaveLength(0);
  });
});

describe('detector that cannot see', () => {
  it('pages once and opens nothing when Nova lists no compute service', async () => {
    const c = cloud(3);
    const d = c.detector();
    await d.runRound();
    c.nova.hosts.clear();
    for (let i = 0; i < 3; i++) {
      c.tick();
      const r = await d.runRound();
      expect(r.blindReason).toContain('Nova lists no nova-compute service');
      expect(r.hosts).toEqual([]);
      expect(r.leader).toBe(true); // no lease configured here; the blind replica still opens nothing
    }
    expect(c.notifier.events.filter((e) => e.type === 'controller-isolated')).toHaveLength(1);
    expect(c.notifier.events[0]!.summary).toContain('blind');
    expect(c.prober.calls).toHaveLength(1);
    expect(c.incidents.opened).toHaveLength(0);
  });

  it('calls a service list with nameless entries garbled', async () => {
    const c = cloud(3);
    c.nova.addHost('', {});
    const r = await c.detector().runRound();
    expect(r.blindReason).toContain('garbled: 1 of 4 nova-compute entries have no host or id');
    expect(c.notifier.types()).toEqual(['controller-isolated']);
  });

  it('pages when no round finishes for a few intervals (a Nova that never answers)', async () => {
    const c = cloud(2);
    const stuck = Object.create(c.nova) as typeof c.nova;
    stuck.listComputeServices = ((opts?: { signal?: AbortSignal }) => new Promise((_, reject) => {
      opts?.signal?.addEventListener('abort', () => reject(opts.signal!.reason), { once: true });
    })) as typeof c.nova.listComputeServices;
    const notifier = new RecordingNotifier();
    const d = createDetector({
      config: testConfig({ intervalMs: 1000 }), compute: computeOf(stuck), prober: c.prober, logger: silentLogger, notifier,
      tuning: { stalledMinMs: 300, stalledAfterIntervals: 0 },
    });
    d.start();
    const deadline = Date.now() + 10_000;
    while (notifier.events.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await d.stop();
    expect(notifier.events.map((e) => e.type)).toEqual(['detector-stalled']);
    expect(notifier.events[0]).toMatchObject({ severity: 'critical' });
  });
});
