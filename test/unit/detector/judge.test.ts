import { describe, expect, it } from 'vitest';
import { NO_HEARTBEAT, heartbeatPeriod, trackHeartbeat } from '../../../src/detector/heartbeat.js';
import { judge, type HostObservation, type JudgeConfig } from '../../../src/detector/judge.js';
import type { HostMemory, InstanceAddressEvidence, MgmtResult, NetworkEvidence, PowerEvidence, ProbeResult, StorageEvidence, Verdict } from '../../../src/detector/types.js';
import { hostOf } from '../../../src/compute/nova/index.js';
import type { ComputeHost } from '../../../src/compute/types.js';

const NOW = 1_700_000_000_000;
/** cmpha's monotonic clock: unrelated to the wall clock on purpose. */
const MONO = 5_000_000;
const config: JudgeConfig = { heartbeatIntervalMs: 10_000, heartbeatMarginMs: 1500, minSilenceMs: 5000, singleSignalSilenceMs: 30_000 };

type Nova = 'up' | 'down' | 'stale' | 'disabled' | 'spare' | 'forced-down';
type Inst = null | 'none' | 'error' | Array<[ProbeResult | 'probe-failed', boolean]>;

function service(nova: Nova, updatedAt: Date | null): ComputeHost {
  return hostOf({
    id: 'svc', binary: 'nova-compute', host: 'c1', zone: 'nova',
    state: nova === 'down' || nova === 'forced-down' ? 'down' : 'up',
    status: nova === 'disabled' || nova === 'spare' ? 'disabled' : 'enabled',
    forcedDown: nova === 'forced-down',
    disabledReason: nova === 'spare' ? 'down_prepare' : nova === 'disabled' ? 'cmpha: kernel upgrade' : null,
    updatedAt,
  }, { reasonPrefix: 'cmpha', spareReasonPrefix: 'down_prepare' });
}

function observation(nova: Nova, mgmt: MgmtResult, inst: Inst, opts: { mono?: number; extra?: NetworkEvidence[]; updatedAt?: Date | null } = {}): HostObservation {
  const mono = opts.mono ?? MONO;
  const addresses: InstanceAddressEvidence[] = Array.isArray(inst)
    ? inst.map(([result, baseline], i) => ({ ip: `198.18.1.${i + 10}`, server: `vm${i}`, network: 'tenant', baseline, result }))
    : [];
  return {
    host: 'c1',
    round: 1,
    at: NOW + (mono - MONO),
    mono,
    service: service(nova, opts.updatedAt === undefined ? new Date(NOW - 5_000) : opts.updatedAt),
    serviceRead: { endMono: mono + 20 },
    networks: [
      { role: 'mgmt', ip: mgmt === 'no-address' ? null : '198.18.0.11', source: mgmt === 'no-address' ? null : 'config', result: mgmt },
      ...(opts.extra ?? []),
    ],
    instances: inst === null ? null : inst === 'none' ? { addresses: [] } : inst === 'error' ? { addresses: [], error: 'HTTP 503' } : { addresses },
    storage: null,
  };
}

/** A host every signal of which has been silent for `silentMs`, whose updated_at has not moved for `staleMs`. */
function silentFor(silentMs: number, staleMs = 60_000, value = NOW - 5_000): HostMemory {
  return {
    verdict: 'suspect', suspectSince: NOW - silentMs, unhealthyRounds: 3, silentSinceMono: MONO - silentMs, lastAliveAt: NOW - silentMs - 1000,
    lastBeatAt: null, heartbeat: { value, firstSeenMono: MONO - staleMs, gapsMs: [], gapFrom: value, admin: null },
  };
}
const LONG = silentFor(60_000);

// One row per situation an operator could meet; `previous` is what judge remembers from before.
const table: Array<{ name: string; nova: Nova; mgmt: MgmtResult; inst: Inst; previous?: HostMemory; verdict: Verdict }> = [
  { name: 'all well', nova: 'up', mgmt: 'alive', inst: null, verdict: 'healthy' },
  { name: 'all well, no management IP known', nova: 'up', mgmt: 'no-address', inst: null, verdict: 'healthy' },
  { name: 'Nova up, probe failed', nova: 'up', mgmt: 'probe-failed', inst: null, verdict: 'healthy' },
  { name: 'disabled host powered off', nova: 'disabled', mgmt: 'silent', inst: null, verdict: 'maintenance' },
  { name: 'spare host (down_prepare)', nova: 'spare', mgmt: 'silent', inst: null, verdict: 'maintenance' },
  { name: 'nova-compute down, host answers', nova: 'down', mgmt: 'alive', inst: [['silent', true]], verdict: 'agent-down' },
  { name: 'heartbeat missed, host answers', nova: 'up', mgmt: 'alive', inst: null, previous: LONG, verdict: 'agent-down' },
  { name: 'Nova down, mgmt silent, an instance answers', nova: 'down', mgmt: 'silent', inst: [['silent', true], ['alive', true]], verdict: 'isolated-mgmt' },
  { name: 'Nova up, mgmt silent, instances answer', nova: 'up', mgmt: 'silent', inst: [['alive', true]], verdict: 'isolated-mgmt' },
  { name: 'Nova up, mgmt silent, no instance answers', nova: 'up', mgmt: 'silent', inst: [['silent', true]], verdict: 'suspect' },
  { name: 'Nova down, no mgmt IP but an instance answers', nova: 'down', mgmt: 'no-address', inst: [['alive', false]], verdict: 'agent-down' },
  { name: 'never-baselined instance answering still counts as alive', nova: 'down', mgmt: 'silent', inst: [['alive', false]], verdict: 'isolated-mgmt' },
  { name: 'Nova down, no management IP', nova: 'down', mgmt: 'no-address', inst: [['silent', true]], verdict: 'unprobeable' },
  { name: 'Nova down, all silent, first look', nova: 'down', mgmt: 'silent', inst: [['silent', true]], verdict: 'suspect' },
  { name: 'Nova down, all silent long enough', nova: 'down', mgmt: 'silent', inst: [['silent', true]], previous: LONG, verdict: 'dead' },
  { name: 'heartbeat missed, all silent long enough', nova: 'up', mgmt: 'silent', inst: [['silent', true]], previous: LONG, verdict: 'dead' },
  { name: 'forced down, all silent long enough', nova: 'forced-down', mgmt: 'silent', inst: 'none', previous: LONG, verdict: 'dead' },
  { name: 'silent non-baseline instances are no evidence', nova: 'down', mgmt: 'silent', inst: [['silent', false]], previous: LONG, verdict: 'dead' },
  { name: 'host has no instances', nova: 'down', mgmt: 'silent', inst: 'none', previous: LONG, verdict: 'dead' },
  { name: 'mgmt probe failed: cannot confirm', nova: 'down', mgmt: 'probe-failed', inst: null, previous: LONG, verdict: 'suspect' },
  { name: 'fping said nothing about mgmt: cannot confirm', nova: 'down', mgmt: 'unknown', inst: [['silent', true]], previous: LONG, verdict: 'suspect' },
  { name: 'server list failed: cannot confirm', nova: 'down', mgmt: 'silent', inst: 'error', previous: LONG, verdict: 'suspect' },
  { name: 'instance probe failed: cannot confirm', nova: 'down', mgmt: 'silent', inst: [['probe-failed', true]], previous: LONG, verdict: 'suspect' },
  { name: 'a baseline instance fping said nothing about: cannot confirm', nova: 'down', mgmt: 'silent', inst: [['unknown', true]], previous: LONG, verdict: 'suspect' },
  { name: 'instances not examined: cannot confirm', nova: 'down', mgmt: 'silent', inst: null, previous: LONG, verdict: 'suspect' },
  { name: 'host came back', nova: 'up', mgmt: 'alive', inst: null, previous: LONG, verdict: 'agent-down' },
  { name: 'host came back with a fresh heartbeat', nova: 'up', mgmt: 'alive', inst: null, previous: silentFor(60_000, 60_000, NOW - 20_000), verdict: 'healthy' },
  { name: 'agent-down interrupts the silence', nova: 'down', mgmt: 'alive', inst: null, previous: LONG, verdict: 'agent-down' },
];

describe('judge: verdict table', () => {
  for (const row of table) {
    it(`${row.name} → ${row.verdict}`, () => {
      const j = judge(observation(row.nova, row.mgmt, row.inst), row.previous, config);
      expect(j.verdict).toBe(row.verdict);
      expect(j.memory.verdict).toBe(row.verdict);
      expect(j.evidence.reasons.length).toBeGreaterThan(0);
      expect(JSON.parse(JSON.stringify(j.evidence))).toEqual(j.evidence);
      // A verdict other than dead that breaks the silence starts it again.
      if (row.verdict !== 'dead' && row.verdict !== 'suspect') expect(j.memory.silentSinceMono).toBeNull();
    });
  }
});

/**
 * A host over time: each step is [seconds after the failure, Nova state, updated_at (Nova's clock, seconds
 * after the failure, or null), management result, instances]. Nova's clock is `novaOffsetS` off cmpha's.
 */
type Step = [number, Nova, number | null, MgmtResult, Inst];
function timeline(steps: Step[], opts: {
  novaOffsetS?: number; cfg?: JudgeConfig; extra?: (t: number) => NetworkEvidence[]; memory?: HostMemory;
  /** The BMC's last power read shown at step t (power-witness.ts), or null. */
  power?: (t: number) => PowerEvidence | null;
  /** The storage-side signal (Ceph watches) at step t, or null. */
  storage?: (t: number) => StorageEvidence | null;
} = {}) {
  let memory = opts.memory;
  const novaZero = NOW + (opts.novaOffsetS ?? 0) * 1000;
  return steps.map(([t, nova, upd, mgmt, inst]) => {
    const obs = observation(nova, mgmt, inst, {
      mono: MONO + t * 1000,
      updatedAt: upd === null ? null : new Date(novaZero + upd * 1000),
      ...(opts.extra ? { extra: opts.extra(t) } : {}),
    });
    const withPower = opts.power ? { ...obs, power: opts.power(t) } : obs;
    const j = judge(opts.storage ? { ...withPower, storage: opts.storage(t) } : withPower, memory, opts.cfg ?? config);
    memory = j.memory;
    return j;
  });
}
const V = (js: ReturnType<typeof timeline>) => js.map((j) => j.verdict);
const OK: Inst = [['alive', true]];
const SILENT: Inst = [['silent', true]];

/** Healthy rounds every 2 s with heartbeats every 10 s, so the period is learned; the last beat at t = -2. */
function healthyHistory(): Step[] {
  const out: Step[] = [];
  for (let t = -40; t < 0; t += 2) out.push([t, 'up', Math.floor((t + 2) / 10) * 10 - 2, 'alive', OK]);
  return out;
}

describe('judge: timing over time', () => {
  it('learns the heartbeat period from updated_at steps while healthy', () => {
    const js = timeline(healthyHistory());
    expect(js.at(-1)!.evidence.nova).toMatchObject({ says: 'up', heartbeatPeriodMs: 10_000, heartbeatLearned: true });
  });

  it('power loss: dead once the next heartbeat is overdue (period + margin after the last value was first seen) and silence lasted min_silence', () => {
    // The last heartbeat (updated_at = -2) was first seen at t = -2; the next was due at 8, overdue at 9.5.
    const steps: Step[] = [...healthyHistory()];
    for (let t = 0; t <= 12; t += 1) steps.push([t, 'up', -2, 'silent', SILENT]);
    const js = timeline(steps).slice(-13);
    const firstDead = js.findIndex((j) => j.verdict === 'dead');
    expect(firstDead).toBe(10); // t = 10: first look after 9.5 s
    expect(V(js).slice(0, firstDead).every((v) => v === 'suspect')).toBe(true);
    expect(js[firstDead]!.evidence.nova.says).toBe('stale');
  });

  it('boundary: silence of min_silence minus a little is not enough, min_silence is', () => {
    // Nova already says down, so only the silence decides.
    const base: Step[] = [[0, 'down', -60, 'silent', SILENT]];
    const justUnder = timeline([...base, [4.999, 'down', -60, 'silent', SILENT]]);
    const exactly = timeline([...base, [5, 'down', -60, 'silent', SILENT]]);
    expect(V(justUnder)).toEqual(['suspect', 'suspect']);
    expect(V(exactly)).toEqual(['suspect', 'dead']);
    expect(exactly[1]!.evidence).toMatchObject({ silentForMs: 5000, silenceNeededMs: 5000 });
  });

  it('boundary: a heartbeat is missed only after period + margin, not before', () => {
    // updated_at first seen at t = 0; period 10 s (configured), margin 1.5 s.
    const steps = (at: number): Step[] => [[0, 'up', 0, 'silent', SILENT], [at, 'up', 0, 'silent', SILENT]];
    // serviceRead.endMono is 20 ms after the observation starts, so the value is first seen at 0.02 s.
    expect(V(timeline(steps(11.5)))).toEqual(['suspect', 'suspect']);
    expect(V(timeline(steps(11.53)))).toEqual(['suspect', 'dead']);
  });

  it('a host with a single independent signal needs single_signal_silence', () => {
    const steps: Step[] = [];
    for (let t = 0; t <= 31; t += 1) steps.push([t, 'down', -60, 'silent', 'none']);
    const js = timeline(steps);
    expect(js[0]!.evidence.signals).toBe(1);
    expect(js[0]!.evidence.reasons.join(' ')).toContain('only one independent signal');
    expect(js.findIndex((j) => j.verdict === 'dead')).toBe(30);
  });

  it('a storage or tunnel address that answers keeps the host from dead, and counts as a second signal', () => {
    const storage = (result: MgmtResult): NetworkEvidence[] => [{ role: 'storage', ip: '198.18.2.11', source: 'config', result }];
    const steps: Step[] = [];
    for (let t = 0; t <= 40; t += 1) steps.push([t, 'down', -60, 'silent', 'none']);
    const alive = timeline(steps, { extra: () => storage('alive') });
    expect(new Set(V(alive))).toEqual(new Set(['isolated-mgmt']));
    const silent = timeline(steps, { extra: () => storage('silent') });
    expect(silent[0]!.evidence.signals).toBe(2);
    expect(V(silent).indexOf('dead')).toBe(5);
  });

  it('no fence for a 5 s loss of every ping while heartbeats continue', () => {
    const steps: Step[] = [...healthyHistory()];
    // Pings lost from 0 to 5; heartbeats at 8, 18 go on.
    for (let t = 0; t <= 20; t += 1) {
      const lost = t < 5;
      steps.push([t, 'up', t >= 18 ? 18 : t >= 8 ? 8 : -2, lost ? 'silent' : 'alive', lost ? SILENT : OK]);
    }
    expect(V(timeline(steps))).not.toContain('dead');
  });

  it('no fence for a nova-compute restart or pause while the host answers', () => {
    const steps: Step[] = [...healthyHistory()];
    for (let t = 0; t <= 40; t += 1) steps.push([t, 'up', t >= 35 ? 35 : -2, 'alive', OK]); // 37 s without a heartbeat
    const js = timeline(steps);
    expect(V(js)).not.toContain('dead');
    expect(V(js)).toContain('agent-down');
    expect(js.at(-1)!.verdict).toBe('healthy');
  });

  it('a management-link flap (silence shorter than min_silence) is no failure', () => {
    const steps: Step[] = [...healthyHistory()];
    for (let t = 0; t <= 30; t += 1) {
      const down = t % 10 < 3; // 3 s down every 10 s, heartbeats lost with the link
      steps.push([t, 'up', -2, down ? 'silent' : 'alive', down ? SILENT : OK]);
    }
    expect(V(timeline(steps))).not.toContain('dead');
  });

  for (const offset of [-600, 600]) {
    it(`Nova's clock ${offset > 0 ? 'ahead of' : 'behind'} cmpha's by 10 minutes changes nothing`, () => {
      const steps: Step[] = [...healthyHistory()];
      for (let t = 0; t <= 12; t += 1) steps.push([t, 'up', -2, 'silent', SILENT]);
      const shifted = timeline(steps, { novaOffsetS: offset });
      const straight = timeline(steps);
      expect(V(shifted)).toEqual(V(straight));
      expect(V(shifted.slice(0, 20))).toEqual(Array(20).fill('healthy'));
      expect(shifted.at(-1)!.verdict).toBe('dead');
    });
  }

  it('an admin PUT during the silence moves updated_at: that delays the verdict, it never hastens it', () => {
    const steps: Step[] = [...healthyHistory()];
    // A PUT lands at t = 5 (updated_at jumps to 5), no heartbeat after it.
    for (let t = 0; t <= 20; t += 1) steps.push([t, 'up', t >= 5 ? 5 : -2, 'silent', SILENT]);
    const js = timeline(steps).slice(-21);
    const dead = V(js).indexOf('dead');
    expect(dead).toBe(17); // first seen at 5, overdue at 16.5
    // The PUT's short step is not learned as a period (the host did not answer).
    expect(js.at(-1)!.evidence.nova.heartbeatPeriodMs).toBe(10_000);
  });

  it('admin PUTs while healthy do not shrink the learned period', () => {
    const steps = healthyHistory().map((s, i): Step => (i === 5 || i === 12 ? [s[0], s[1], (s[2] as number) + 1, s[3], s[4]] : s));
    const js = timeline(steps);
    expect(js.at(-1)!.evidence.nova.heartbeatPeriodMs).toBe(10_000);
  });

  it('a service not read this time neither ages the heartbeat nor confirms', () => {
    const j1 = judge(observation('up', 'silent', SILENT, { mono: MONO, updatedAt: new Date(NOW) }), undefined, config);
    const unread = { ...observation('up', 'silent', SILENT, { mono: MONO + 60_000, updatedAt: new Date(NOW) }), serviceRead: null };
    const j2 = judge(unread, j1.memory, config);
    expect(j2.verdict).toBe('suspect');
    expect(j2.evidence.nova.says).toBe('unread');
  });

  it('forgets a failure once the host is healthy again, so the next failure has its own start', () => {
    const js = timeline([[0, 'down', -60, 'silent', 'none'], [1, 'up', 1, 'alive', null], [2, 'down', 1, 'silent', 'none']]);
    expect(js.map((j) => j.evidence.suspectSince)).toEqual([NOW, null, NOW + 2000]);
    expect(js[2]!.evidence.silentForMs).toBe(0);
  });

  it('treats a disabled host as maintenance whatever its signals, and resets its history', () => {
    const js = timeline([[0, 'down', -60, 'silent', 'none'], [40, 'down', -60, 'silent', 'none'], [41, 'disabled', -60, 'silent', null]]);
    expect(V(js)).toEqual(['suspect', 'dead', 'maintenance']);
    expect(js[2]!.memory).toMatchObject({ suspectSince: null, silentSinceMono: null });
  });

  it('never declares an unprobeable host dead, however long it stays down', () => {
    const js = timeline(Array.from({ length: 6 }, (_, i): Step => [i * 30, 'down', -60, 'no-address', 'none']));
    expect(new Set(V(js))).toEqual(new Set(['unprobeable']));
    expect(js[5]!.evidence.reasons.join(' ')).toContain('never be declared dead');
  });
});

describe('heartbeat memory', () => {
  it('keeps the first-seen time of an unchanged value and takes the median gap', () => {
    let m = NO_HEARTBEAT;
    const svc = (s: number) => service('up', new Date(NOW + s * 1000));
    m = trackHeartbeat(m, svc(0), 100, true);
    m = trackHeartbeat(m, svc(0), 900, true);
    expect(m.firstSeenMono).toBe(100);
    for (const s of [5, 10, 15, 20, 25, 50]) m = trackHeartbeat(m, svc(s), 1000 + s, true);
    expect(heartbeatPeriod(m, 10_000)).toEqual({ periodMs: 5000, learned: true });
    expect(heartbeatPeriod(NO_HEARTBEAT, 7000)).toEqual({ periodMs: 7000, learned: false });
  });

  // The spare's updated_at in a failover on the lab: :25, :35, :38 (cmpha enables it), :45, :55.
  const spare = (s: number, enabled: boolean) => service(enabled ? 'up' : 'spare', new Date(NOW + s * 1000));
  it('a change of status, disabled_reason or forced_down marks an admin write: no gap is measured to or from it', () => {
    let m = NO_HEARTBEAT;
    m = trackHeartbeat(m, spare(25, false), 25_000, false);
    m = trackHeartbeat(m, spare(35, false), 35_000, false);
    for (const s of [38, 45, 55, 65, 75]) m = trackHeartbeat(m, spare(s, true), s * 1000, true);
    expect(m.gapsMs).toEqual([10_000, 10_000, 10_000]);
    expect(heartbeatPeriod(m, 10_000)).toEqual({ periodMs: 10_000, learned: true });
  });

  it('a period shorter than the configured one is believed only after enough gaps (a write that changes nothing seen splits a gap)', () => {
    let m = NO_HEARTBEAT;
    for (const s of [25, 35, 38, 45]) m = trackHeartbeat(m, spare(s, true), s * 1000, true);
    expect(m.gapsMs).toEqual([10_000, 3000, 7000]);
    expect(heartbeatPeriod(m, 10_000)).toEqual({ periodMs: 10_000, learned: false }); // the median, 7 s, is not believed
    const short = [3000, 7000, 3000];
    expect(heartbeatPeriod({ ...m, gapsMs: short }, 10_000).periodMs).toBe(10_000);
    expect(heartbeatPeriod({ ...m, gapsMs: [...short, 5000, 5000, 5000] }, 10_000)).toEqual({ periodMs: 5000, learned: true });
  });
});

describe('judge: evidence', () => {
  it('says what each signal said', () => {
    const j = judge(observation('down', 'silent', [['silent', true], ['silent', false]]), LONG, config);
    expect(j.evidence).toMatchObject({
      host: 'c1', zone: 'nova', nova: { says: 'down', state: 'down' },
      mgmt: { ip: '198.18.0.11', result: 'silent', lastAliveAt: LONG.lastAliveAt },
      instances: { checked: true, answered: 0, baselineTotal: 1, baselineSilent: 1 },
      suspectSince: LONG.suspectSince, signals: 2, silentForMs: 60_000, silenceNeededMs: 5000,
    });
    expect(j.evidence.reasons.join('\n')).toMatch(/Nova reports nova-compute down[\s\S]*198\.18\.0\.11 is silent[\s\S]*1 of 1 instance/);
  });

  it('says when there is no instance evidence because no networks are configured', () => {
    const s = { ...observation('down', 'silent', 'none'), instances: { addresses: [], note: 'instance_networks is empty: no instance evidence' } };
    const j = judge(s, undefined, config);
    expect(j.evidence.instances.note).toContain('instance_networks is empty');
    expect(j.evidence.reasons).toContain('instance_networks is empty: no instance evidence');
  });

  it('takes a storage-side signal: alive keeps the host from dead', () => {
    const s = { ...observation('down', 'silent', 'none'), storage: { alive: true, detail: 'rbd watchers present' } };
    const j = judge(s, LONG, config);
    expect(j.verdict).toBe('isolated-mgmt');
    expect(j.evidence.reasons).toContain('storage: rbd watchers present');
  });
});

/** A BMC read each second, answered 100 ms before the look at t: `state(t)` is what it read. */
const bmc = (state: (t: number) => PowerEvidence['state'] | null) => (t: number): PowerEvidence | null => {
  const st = state(t);
  return st === null ? null : { state: st, detail: `power read ${st} from ipmi 198.18.9.1:623`, atMono: MONO + t * 1000 - 100, seq: Math.round(t) + 1000 };
};

describe('judge: the chassis power read off as proof without the heartbeat', () => {
  it('power loss: dead after min_silence, without waiting for the heartbeat to be overdue; the evidence says why', () => {
    const steps: Step[] = [...healthyHistory()];
    for (let t = 0; t <= 12; t += 1) steps.push([t, 'up', -2, 'silent', SILENT]);
    const js = timeline(steps, { power: bmc((t) => (t >= 0 ? 'off' : 'on')) }).slice(-13);
    const firstDead = js.findIndex((j) => j.verdict === 'dead');
    expect(firstDead).toBe(5); // min_silence, where the heartbeat rule waits until t = 10
    expect(js[firstDead]!.evidence).toMatchObject({ deadBy: 'power-off', nova: { says: 'up' }, power: { state: 'off' } });
    expect(js[firstDead]!.evidence.reasons.join(' ')).toMatch(/BMC reads the chassis off: dead without waiting for Nova's heartbeat/);
    // Without the BMC the same steps wait for the heartbeat.
    const without = timeline(steps).slice(-13);
    expect(without.findIndex((j) => j.verdict === 'dead')).toBe(10);
    expect(without[10]!.evidence.deadBy).toBe('heartbeat');
  });

  it('a chassis read off while the host answers is a BMC that is wrong: never dead, and said so', () => {
    const steps: Step[] = [...healthyHistory()];
    for (let t = 0; t <= 40; t += 1) steps.push([t, 'up', Math.floor(t / 10) * 10 + 8, 'alive', OK]);
    const js = timeline(steps, { power: bmc(() => 'off') });
    expect(V(js)).not.toContain('dead');
    expect(js.at(-1)!.evidence.reasons.join(' ')).toMatch(/BMC reads the chassis off, but the host answers: the BMC is wrong/);
  });

  it('the flapping boundary stays: a link flap shorter than min_silence is no failure, whatever the BMC reads', () => {
    const steps: Step[] = [...healthyHistory()];
    for (let t = 0; t <= 30; t += 1) {
      const down = t % 10 < 4; // 4 s down every 10 s
      steps.push([t, 'up', -2, down ? 'silent' : 'alive', down ? SILENT : OK]);
    }
    expect(V(timeline(steps, { power: bmc(() => 'off') }))).not.toContain('dead');
  });

  it('a heartbeat during the silence is a live signal: a 7 s loss of every ping with a heartbeat at 3 s is not dead, whatever the BMC reads', () => {
    const steps: Step[] = [...healthyHistory()];
    for (let t = 0; t <= 20; t += 1) {
      const lost = t < 7;
      steps.push([t, 'up', t >= 13 ? 13 : t >= 3 ? 3 : -2, lost ? 'silent' : 'alive', lost ? SILENT : OK]);
    }
    const js = timeline(steps, { power: bmc(() => 'off') });
    expect(V(js)).not.toContain('dead');
    expect(js.find((j) => j.evidence.silentForMs >= 5000)!.evidence.reasons.join(' ')).toMatch(/updated_at moved during the silence|heartbeat is not overdue/);
  });

  it('one read off is not enough; a BMC that answers unknown, slowly (no fresh read) or not at all leaves the heartbeat to decide', () => {
    const steps: Step[] = [...healthyHistory()];
    for (let t = 0; t <= 12; t += 1) steps.push([t, 'up', -2, 'silent', SILENT]);
    const firstDead = (power: (t: number) => PowerEvidence | null) => V(timeline(steps, { power }).slice(-13)).indexOf('dead');
    // Off once, then on again: a wrong answer.
    expect(firstDead(bmc((t) => (t === 2 ? 'off' : 'on')))).toBe(10);
    // Off on alternate reads only: never two in a row.
    expect(firstDead(bmc((t) => (t % 2 === 0 ? 'off' : 'unknown')))).toBe(10);
    expect(firstDead(bmc(() => 'unknown'))).toBe(10);
    expect(firstDead(() => null)).toBe(10);
    // A slow BMC: its last answer (off, twice, before the failure) is shown again and again, and grows old.
    const stale: PowerEvidence = { state: 'off', detail: 'power read off', atMono: MONO - 1000, seq: 7 };
    expect(firstDead(() => stale)).toBe(10);
  });

  it('a service not read this time cannot rule out a heartbeat: no proof from the power alone', () => {
    const steps: Step[] = [...healthyHistory()];
    for (let t = 0; t <= 8; t += 1) steps.push([t, 'up', -2, 'silent', SILENT]);
    let memory: HostMemory | undefined;
    const js = steps.map(([t, nova, upd, mgmt, inst]) => {
      const obs = observation(nova, mgmt, inst, { mono: MONO + t * 1000, updatedAt: upd === null ? null : new Date(NOW + upd * 1000) });
      const j = judge({ ...obs, serviceRead: t >= 0 ? null : obs.serviceRead, power: bmc(() => 'off')(t) }, memory, config);
      memory = j.memory;
      return j;
    });
    expect(V(js)).not.toContain('dead');
  });
});

describe('judge: a BMC caught wrong', () => {
  it('a BMC read off while the host answered is not believed later, until it reads on', () => {
    const steps: Step[] = [...healthyHistory()];
    for (let t = 0; t <= 3; t += 1) steps.push([t, 'up', -2, 'alive', OK]); // answering, BMC says off
    for (let t = 4; t <= 12; t += 1) steps.push([t, 'up', -2, 'silent', SILENT]);
    const js = timeline(steps, { power: bmc(() => 'off') }).slice(-13);
    expect(js.findIndex((j) => j.verdict === 'dead')).toBe(10); // t = 10: the heartbeat's time, not min_silence's
    expect(js.find((j) => j.evidence.silentForMs >= 5000)!.evidence.reasons.join(' ')).toMatch(/read the chassis off while the host answered: not believed/);
    // Once it reads on, its off counts again.
    const healed = timeline([...healthyHistory(), [0, 'up', -2, 'alive', OK], [1, 'up', -2, 'alive', OK],
      ...Array.from({ length: 10 }, (_, i): Step => [i + 2, 'up', -2, 'silent', SILENT])], { power: bmc((t) => (t === 0 ? 'off' : t === 1 ? 'on' : 'off')) });
    expect(healed.find((j) => j.verdict === 'dead')!.evidence.deadBy).toBe('power-off');
  });
});

describe('judge: a host in its crash kernel (fence_kdump messages heard)', () => {
  const crashKernel = { ip: '198.18.0.11', count: 4, firstAt: NOW - 30_000, lastAt: NOW - 2_000 };
  const crashed = (nova: Nova, inst: Inst, opts: { mono?: number; updatedAt?: Date | null } = {}): HostObservation => ({ ...observation(nova, 'crash-kernel', inst, opts), crashKernel });

  it('its answering management address counts as silent: dead once the silence is long enough and Nova saw no heartbeat', () => {
    const j = judge(crashed('down', SILENT), LONG, config);
    expect(j.verdict).toBe('dead');
    expect(j.evidence.crashKernel).toEqual(crashKernel);
    expect(j.evidence.reasons.join('\n')).toMatch(/in its crash kernel: 4 fence_kdump message\(s\) from 198\.18\.0\.11/);
    expect(j.evidence.reasons.join('\n')).toMatch(/management IP 198\.18\.0\.11 answers, but for the crash kernel: counted as silent/);
  });

  it('the silence starts with the first observation, as for a host that stopped answering', () => {
    const first = judge(crashed('down', SILENT), undefined, config);
    expect(first.verdict).toBe('suspect');
    expect(first.memory.silentSinceMono).toBe(MONO);
    const later = judge(crashed('down', SILENT, { mono: MONO + config.minSilenceMs }), first.memory, config);
    expect(later.verdict).toBe('dead');
  });

  it('Nova\'s heartbeat still counts: not dead while updated_at is fresh', () => {
    expect(judge(crashed('up', SILENT), silentFor(60_000, 1000), config).verdict).toBe('suspect');
  });

  it('an instance address answering is still life: never dead', () => {
    expect(judge(crashed('down', [['alive', true]]), LONG, config).verdict).not.toBe('dead');
  });

  it('the same answer without fence_kdump messages is life (agent-down, never dead)', () => {
    const j = judge(observation('down', 'alive', SILENT), LONG, config);
    expect(j.verdict).toBe('agent-down');
    expect(j.evidence.crashKernel).toBeUndefined();
  });
});

/** The host's storage address, silent or answering at step t. */
const storageNet = (result: (t: number) => MgmtResult) => (t: number): NetworkEvidence[] => [{ role: 'storage', ip: '198.19.0.11', source: 'config', result: result(t) }];
/** Ceph watches as the storage signal shows them: held (within the grace a dead client's watch lingers) until `lapseAt`, none after. */
const watches = (lapseAt: number) => (t: number): StorageEvidence => (t >= lapseAt
  ? { alive: false, lapsed: true, detail: 'no watch held from its storage addresses: the 2 seen since it came under suspicion lapsed' }
  : { alive: null, detail: '2 watch(es) held, within the 30 s a dead client\'s watch lingers' });

describe('judge: two silent networks, silent instances and lapsed Ceph watches as proof without the heartbeat', () => {
  // The failure at t = 0; the heartbeat would prove it at t = 10. In these steps the watches lapse at t = 3 (on a
  // real cluster 25-30 s after the last ping: the judge is pure, only the order matters).
  const silentSteps = (until: number): Step[] => {
    const steps: Step[] = [...healthyHistory()];
    for (let t = 0; t <= until; t += 1) steps.push([t, 'up', -2, 'silent', SILENT]);
    return steps;
  };
  const firstDead = (js: ReturnType<typeof timeline>) => V(js.slice(-13)).indexOf('dead');

  it('hang: dead after min_silence once the watches lapsed, without waiting for the heartbeat; the evidence says why', () => {
    const js = timeline(silentSteps(12), { extra: storageNet((t) => (t >= 0 ? 'silent' : 'alive')), storage: watches(3) }).slice(-13);
    expect(firstDead(js)).toBe(5);
    expect(js[5]!.evidence).toMatchObject({ deadBy: 'watch-lapse', nova: { says: 'up' }, storage: { lapsed: true } });
    expect(js[5]!.evidence.reasons.join(' ')).toMatch(/on two networks and every instance address, no heartbeat came during it, and the host's Ceph watches lapsed/);
    // Before the lapse the silence alone proves nothing, and says what is missing.
    expect(js[2]!.evidence.reasons.join(' ')).toMatch(/the lapse of the Ceph watches proves nothing yet: its Ceph watches have not lapsed/);
  });

  it('each part is needed: one network only, no instance that used to answer, watches that never lapse or were never held: the heartbeat decides', () => {
    // Management only (no storage_ip, no tunnel_ip).
    expect(firstDead(timeline(silentSteps(12), { storage: watches(3) }))).toBe(10);
    // No instance address ever answered while healthy.
    const noBaseline: Step[] = [...healthyHistory().map(([t, n, u, m]): Step => [t, n, u, m, [['silent', false]]])];
    for (let t = 0; t <= 12; t += 1) noBaseline.push([t, 'up', -2, 'silent', [['silent', false]]]);
    expect(firstDead(timeline(noBaseline, { extra: storageNet((t) => (t >= 0 ? 'silent' : 'alive')), storage: watches(3) }))).toBe(10);
    // Watches still held (within the grace).
    expect(firstDead(timeline(silentSteps(12), { extra: storageNet((t) => (t >= 0 ? 'silent' : 'alive')), storage: watches(99) }))).toBe(10);
    // No watch was ever seen: a host without RBD clients proves nothing by holding none.
    const never = (): StorageEvidence => ({ alive: false, lapsed: false, detail: 'no watch held from its storage addresses' });
    expect(firstDead(timeline(silentSteps(12), { extra: storageNet((t) => (t >= 0 ? 'silent' : 'alive')), storage: never }))).toBe(10);
    // No storage signal wired at all.
    expect(firstDead(timeline(silentSteps(12), { extra: storageNet((t) => (t >= 0 ? 'silent' : 'alive')) }))).toBe(10);
  });

  it('one of two networks down: the storage address answers, never dead, whatever the watches show', () => {
    const steps: Step[] = [...healthyHistory()];
    for (let t = 0; t <= 40; t += 1) steps.push([t, t >= 12 ? 'stale' : 'up', -2, 'silent', SILENT]);
    const js = timeline(steps, { extra: storageNet(() => 'alive'), storage: watches(3) });
    expect(V(js)).not.toContain('dead');
    expect(js.at(-1)!.verdict).toBe('isolated-mgmt');
  });

  it('the flapping boundary stays: a flap of both links shorter than min_silence is no failure, whatever the watches show', () => {
    const steps: Step[] = [...healthyHistory()];
    for (let t = 0; t <= 30; t += 1) {
      const down = t % 10 < 4; // 4 s down every 10 s
      steps.push([t, 'up', -2, down ? 'silent' : 'alive', down ? SILENT : OK]);
    }
    expect(V(timeline(steps, { extra: storageNet((t) => (t >= 0 && t % 10 < 4 ? 'silent' : 'alive')), storage: watches(0) }))).not.toContain('dead');
  });

  it('a heartbeat during the silence is a live signal: a 7 s loss of every ping with a heartbeat at 3 s is not dead, whatever the watches show', () => {
    const steps: Step[] = [...healthyHistory()];
    for (let t = 0; t <= 20; t += 1) {
      const lost = t < 7;
      steps.push([t, 'up', t >= 13 ? 13 : t >= 3 ? 3 : -2, lost ? 'silent' : 'alive', lost ? SILENT : OK]);
    }
    expect(V(timeline(steps, { extra: storageNet((t) => (t >= 0 && t < 7 ? 'silent' : 'alive')), storage: watches(0) }))).not.toContain('dead');
  });

  it('a service not read this time cannot rule out a heartbeat: no proof from the lapse alone', () => {
    let memory: HostMemory | undefined;
    const js = silentSteps(8).map(([t, nova, upd, mgmt, inst]) => {
      const obs = observation(nova, mgmt, inst, {
        mono: MONO + t * 1000, updatedAt: upd === null ? null : new Date(NOW + upd * 1000), extra: storageNet((x) => (x >= 0 ? 'silent' : 'alive'))(t),
      });
      const j = judge({ ...obs, serviceRead: t >= 0 ? null : obs.serviceRead, storage: watches(3)(t) }, memory, config);
      memory = j.memory;
      return j;
    });
    expect(V(js)).not.toContain('dead');
  });
});

describe('judge: silence is timed from the probe, not from the start of a slow observation', () => {
  it('a round whose Nova reads took 3 s before its probe counts no silence for those seconds: a 4 s flap stays no failure', () => {
    // Nova already sees no heartbeat: only the silence decides. The first silent look starts at t = 0 and probes at
    // t = 3 (its service list was slow); the looks after it probe at once; the host answers again at t = 8.
    const looks: Array<[number, number, MgmtResult]> = [[0, 3, 'silent'], [4, 4, 'silent'], [5, 5, 'silent'], [6, 6, 'silent'], [7, 7, 'silent'], [8, 8, 'alive']];
    let memory: HostMemory | undefined = { ...silentFor(0), silentSinceMono: null, verdict: 'healthy' };
    const js = looks.map(([start, probe, mgmt]) => {
      const obs = observation('down', mgmt, mgmt === 'silent' ? SILENT : OK, { mono: MONO + start * 1000, extra: storageNet(() => mgmt)(start) });
      const j = judge({ ...obs, probeMono: MONO + probe * 1000 }, memory, config);
      memory = j.memory;
      return j;
    });
    expect(V(js)).not.toContain('dead');
    expect(js[4]!.evidence.silentForMs).toBe(4000);
    // Timed from the observations' starts, the same looks would have counted 7 s.
    let m2: HostMemory | undefined = { ...silentFor(0), silentSinceMono: null, verdict: 'healthy' };
    const fromStart = looks.map(([start, , mgmt]) => {
      const j = judge(observation('down', mgmt, mgmt === 'silent' ? SILENT : OK, { mono: MONO + start * 1000, extra: storageNet(() => mgmt)(start) }), m2, config);
      m2 = j.memory;
      return j;
    });
    expect(fromStart[4]!.verdict).toBe('dead');
  });
});
