import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/types.js';
import { createDetector } from '../../../src/detector/detector.js';
import { createProber } from '../../../src/detector/prober.js';
import type { RoundReport } from '../../../src/detector/types.js';
import { createOpenStack } from '../../../src/openstack/index.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { runSim, type RunningSim } from '../../../src/sim/index.js';
import { RecordingIncidents } from '../../helpers/recording-incidents.js';
import { computeOf } from '../../helpers/compute.js';
import { IpmiSimLab, type SimulatedBmc } from '../../helpers/ipmi-sim.js';
import { freeUdpPort } from '../../helpers/ports.js';
import { powerWitnessFromConfig } from '../../../src/app/fence-parts.js';
import { readFileSync, writeFileSync } from 'node:fs';

// Detection timing at Nova's defaults (report_interval 10 s, service_down_time 60 s) and cmpha's defaults,
// against the simulator with real fping into its namespaces. The detector runs on the simulator's clock, one
// simulated second per step, as its loop would: a full round every `interval`, a suspect check in between.
// What must hold: an incident within 15 s of a power loss or hang, and none for the things that look like one.


const IP_BLOCK = 170 + Math.floor(Math.random() * 20);
const open: RunningSim[] = [];
const bmcs = new IpmiSimLab();
const witnesses: Array<{ stop(): void }> = [];
afterEach(async () => {
  while (witnesses.length > 0) witnesses.pop()!.stop();
  while (open.length > 0) await open.pop()!.close();
  await bmcs.stopAll();
});

/** The victim's [host:NAME] section rewritten to an IPMI BMC on loopback (an ipmi_sim, or a port where none answers). */
function withIpmiBmc(conf: string, host: string, bmc: { port: number; username: string; password: string }): string {
  const lines = conf.split('\n');
  const at = lines.indexOf(`[host:${host}]`);
  let end = lines.findIndex((l, i) => i > at && l.startsWith('['));
  if (end < 0) end = lines.length;
  const section = lines.slice(at, end).filter((l) => /^(\[|mgmt_ip|storage_ip)/.test(l)).concat([
    'driver = ipmi', 'address = 127.0.0.1', `port = ${bmc.port}`, 'ipmi_cipher_suite = 3',
    `username = ${bmc.username}`, `password = ${bmc.password}`, '',
  ]);
  return [...lines.slice(0, at), ...section, ...lines.slice(end)].join('\n');
}

/**
 * `bmc`: the victim's BMC is read by the detector (bmc_power_read, through the fence device registry's IPMI
 * driver): an ipmi_sim whose power the test sets, or 'unreachable' (a loopback port where no BMC answers).
 */
async function world(opts: { bmc?: SimulatedBmc | 'unreachable' } = {}) {
  const sim = await runSim({
    hosts: 4, instancesPerHost: 2, spares: 1, reportIntervalSeconds: 10, serviceDownTimeSeconds: 60,
    bootSeconds: 0.1, netns: true, ipBlock: IP_BLOCK,
  });
  open.push(sim);
  // The victim: a host whose servers answer on the provider network, so it has two independent signals.
  const state = await (await fetch(`${sim.controlUrl}/sim/state`)).json() as { servers: Array<{ host: string; vm_state: string; ip: string | null }> };
  const victim = state.servers.find((s) => s.vm_state === 'active' && s.ip)!.host;
  if (opts.bmc) {
    const bmc = opts.bmc === 'unreachable' ? { port: await freeUdpPort(), username: 'admin', password: 'nobody-answers' } : opts.bmc;
    writeFileSync(sim.configPath, withIpmiBmc(readFileSync(sim.configPath, 'utf8'), victim, bmc));
  }
  const loaded = await loadConfig({ path: sim.configPath, env: {} });
  // cmpha's defaults, except one ping per probe so a step takes well under a real second.
  const config: Config = { ...loaded, detector: { ...loaded.detector, instanceNetworks: ['provider'], probeCount: 1, probeTimeoutMs: 300 } };
  const { nova } = createOpenStack(config.cloud, { logger: silentLogger, clock: sim.world.clock, retryBaseDelayMs: 10 });
  const incidents = new RecordingIncidents(() => sim.world.clock.now());
  const post = async (path: string, body?: unknown) => {
    const r = await fetch(`${sim.controlUrl}${path}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  };
  // As `cmpha run` builds it, on the simulated clock the detector runs on.
  const witness = opts.bmc ? powerWitnessFromConfig(config, silentLogger, () => sim.world.clock.now()) : null;
  if (witness) witnesses.push(witness);
  const detector = createDetector({
    config, compute: computeOf(nova, { config }), prober: createProber(config.detector, { logger: silentLogger }), clock: sim.world.clock, incidents, logger: silentLogger,
    ...(witness ? { powerLook: (hosts: readonly string[]) => witness.look(hosts) } : {}),
  });
  let t = 0;
  const reports: RoundReport[] = [];
  /** `seconds` simulated seconds of the detector loop, calling `at(t)` before each step. */
  const run = async (seconds: number, at?: (t: number) => Promise<void>) => {
    for (let i = 0; i < seconds; i++) {
      // A BMC read started by the previous step has answered before the simulated second passes.
      await witness?.settled();
      await post('/sim/clock', { advanceSeconds: 1 });
      t += 1;
      await at?.(t);
      const r = t % (config.detector.intervalMs / 1000) === 0 ? await detector.runRound() : await detector.runSuspectCheck();
      if (r) reports.push(r);
    }
  };
  return {
    sim, config, nova, incidents, post, run, reports, victim,
    control: (action: string, host = victim) => post(`/sim/hosts/${host}/${action}`),
    now: () => sim.world.clock.now(),
    verdicts: (host = victim) => reports.map((r) => r.hosts.find((h) => h.host === host)?.verdict ?? '-'),
    serviceId: async (host = victim) => (await nova.listComputeServices({ host }))[0]!.id,
  };
}
type W = Awaited<ReturnType<typeof world>>;

/** A healthy stretch long enough to learn the heartbeat period, ending at a random phase of it. */
async function warmUp(w: W): Promise<void> {
  await w.run(32 + Math.floor(Math.random() * 10));
  expect(new Set(w.verdicts())).toEqual(new Set(['healthy']));
}

async function incidentWithin(w: W, failure: string, limitS: number): Promise<number> {
  await warmUp(w);
  await w.control(failure);
  const failedAt = w.now();
  await w.run(limitS + 1);
  expect(w.incidents.opened.map((o) => o.host)).toEqual([w.victim]);
  const took = (w.incidents.opened[0]!.openedAt - failedAt) / 1000;
  expect(took).toBeLessThanOrEqual(limitS);
  // The evidence says why: silence on every signal, and no heartbeat on cmpha's own clock.
  const ev = w.incidents.opened[0]!.evidence;
  expect(ev.silentForMs).toBeGreaterThanOrEqual(ev.silenceNeededMs);
  expect(ev.nova.heartbeatLearned).toBe(true);
  expect(ev.nova.heartbeatPeriodMs).toBe(10_000);
  return took;
}

describe('detection at Nova\'s default timings', () => {
  it('power loss: incident within 15 s', async () => {
    await incidentWithin(await world(), 'power-off', 15);
  });

  it('hang (BMC still on): incident within 15 s', async () => {
    await incidentWithin(await world(), 'hang', 15);
  });

  for (const skew of [600, -600]) {
    it(`Nova's clock ${skew > 0 ? 'ahead of' : 'behind'} cmpha's by 10 minutes: no alarm while healthy, power loss still within 15 s`, async () => {
      const w = await world();
      await w.post('/sim/clock', { novaSkewSeconds: skew });
      await incidentWithin(w, 'power-off', 15);
      for (const h of ['compute2', 'compute3', 'compute4']) expect(new Set(w.verdicts(h))).toEqual(new Set(['healthy']));
    });
  }
});

describe('no incident for what only looks like a failure (Nova\'s default timings)', () => {
  it('a 5 s loss of every ping while heartbeats continue', async () => {
    const w = await world();
    await warmUp(w);
    const start = w.reports.length;
    await w.control('ping/block');
    await w.run(5);
    await w.control('ping/allow');
    await w.run(20);
    expect(w.verdicts().slice(start)).toContain('suspect');
    expect(w.incidents.opened).toHaveLength(0);
  });

  it('a nova-compute restart (15 s without heartbeats while the host answers)', async () => {
    const w = await world();
    await warmUp(w);
    await w.control('nova-compute/stop');
    await w.run(15);
    await w.control('nova-compute/start');
    await w.run(20);
    expect(w.incidents.opened).toHaveLength(0);
    expect(w.verdicts()).toContain('agent-down');
    expect(w.verdicts().at(-1)).toBe('healthy');
  });

  it('nova-compute stopped for 30 s while the host answers', async () => {
    const w = await world();
    await warmUp(w);
    await w.control('nova-compute/stop');
    await w.run(30);
    await w.control('nova-compute/start');
    await w.run(15);
    expect(w.incidents.opened).toHaveLength(0);
    expect(w.verdicts().at(-1)).toBe('healthy');
  });

  it('a management-link flap (down 3 s, up 5 s, three times)', async () => {
    const w = await world();
    await warmUp(w);
    for (let i = 0; i < 3; i++) {
      await w.control('mgmt-link/down');
      await w.run(3);
      await w.control('mgmt-link/up');
      await w.run(5);
    }
    await w.run(15);
    expect(w.incidents.opened).toHaveLength(0);
    expect(w.verdicts().at(-1)).toBe('healthy');
  });

  it('management link cut for a minute, heartbeats stopped, no instance evidence: the storage address keeps it alive', async () => {
    const w = await world();
    await warmUp(w);
    await w.control('instance-link/down');
    await w.control('mgmt-link/down');
    await w.run(60);
    expect(w.incidents.opened).toHaveLength(0);
    const last = w.reports.at(-1)!.hosts.find((h) => h.host === w.victim)!;
    expect(last.verdict).toBe('isolated-mgmt');
    expect(last.evidence.networks.map((n) => `${n.role}:${n.result}`)).toEqual(['mgmt:silent', 'storage:alive']);
    expect(['stale', 'down']).toContain(last.evidence.nova.says); // no heartbeat for a minute: Nova agrees by now
  });

  it('an admin PUT on the service while every ping is lost', async () => {
    const w = await world();
    await warmUp(w);
    const id = await w.serviceId();
    await w.control('ping/block');
    await w.run(4);
    await w.nova.updateService(id, { status: 'enabled' });
    await w.run(4);
    await w.control('ping/allow');
    await w.run(20);
    expect(w.incidents.opened).toHaveLength(0);
  });

  it('an admin PUT during a real power loss delays the incident by at most one heartbeat period', async () => {
    const w = await world();
    await warmUp(w);
    await w.control('power-off');
    const failedAt = w.now();
    await w.run(3);
    await w.nova.updateService(await w.serviceId(), { status: 'enabled' });
    await w.run(25);
    expect(w.incidents.opened.map((o) => o.host)).toEqual([w.victim]);
    expect((w.incidents.opened[0]!.openedAt - failedAt) / 1000).toBeLessThanOrEqual(15 + 10);
  });
});

// The victim's BMC read by the detector (ipmi_sim over IPMI, through the fence device registry's driver):
// chassis off spares the wait for Nova's heartbeat; nothing else moves, and the BMC is only ever asked.
describe('the BMC\'s power read as evidence (ipmi_sim, Nova\'s default timings)', () => {
  const askedOnly = (bmc: SimulatedBmc) => expect(bmc.hookCalls().filter((c) => !c.startsWith('get power'))).toEqual([]);

  it('power loss: the chassis reads off, the incident opens without waiting for the heartbeat; the BMC was only read', async () => {
    const bmc = await bmcs.start({ power: 'on' });
    const w = await world({ bmc });
    await warmUp(w);
    expect(bmc.hookCalls()).toEqual([]); // a healthy host's BMC is not asked
    // Fail right after a heartbeat, so the heartbeat rule alone would wait a whole period (10 s + margin).
    const beat = async () => (await w.nova.listComputeServices({ host: w.victim }))[0]!.updatedAt?.getTime();
    const last = await beat();
    for (let i = 0; i < 12 && (await beat()) === last; i++) await w.run(1);
    await w.control('power-off');
    bmc.setPower('off');
    await w.run(16);
    expect(w.incidents.opened.map((o) => o.host)).toEqual([w.victim]);
    const ev = w.incidents.opened[0]!.evidence as { deadBy?: string; nova: { says: string }; power?: { state: string } };
    expect(ev).toMatchObject({ deadBy: 'power-off', power: { state: 'off' } });
    expect(ev.nova.says).toBe('up'); // Nova's heartbeat was not overdue yet
    expect(bmc.hookCalls().length).toBeGreaterThan(0);
    askedOnly(bmc);
  });

  it('a BMC reading off while the host answers (its management link down, its servers answering): no incident', async () => {
    const bmc = await bmcs.start({ power: 'off' }); // wrong: the host runs
    const w = await world({ bmc });
    await warmUp(w);
    await w.control('mgmt-link/down');
    await w.run(30);
    expect(w.incidents.opened).toHaveLength(0);
    expect(w.verdicts().slice(-5)).toEqual(Array(5).fill('isolated-mgmt'));
    const ev = w.reports.at(-1)!.hosts.find((h) => h.host === w.victim)!.evidence;
    expect(ev.reasons.join(' ')).toMatch(/BMC reads the chassis off, but the host answers: the BMC is wrong/);
    askedOnly(bmc);
  });

  it('a 5 s loss of every ping while heartbeats continue, the BMC on: no incident', async () => {
    const bmc = await bmcs.start({ power: 'on' });
    const w = await world({ bmc });
    await warmUp(w);
    await w.control('ping/block');
    await w.run(5);
    await w.control('ping/allow');
    await w.run(15);
    expect(w.incidents.opened).toHaveLength(0);
    expect(bmc.hookCalls().length).toBeGreaterThan(0);
    askedOnly(bmc);
  });

  it('a BMC once seen reading off while the host answered is not believed later: a 6 s loss of every ping with heartbeats going on opens nothing', async () => {
    const bmc = await bmcs.start({ power: 'off' }); // wrong: the host runs
    const w = await world({ bmc });
    await warmUp(w);
    await w.control('mgmt-link/down'); // under suspicion, its servers answer: the BMC is caught reading off
    await w.run(4);
    await w.control('mgmt-link/up');
    await w.run(2);
    await w.control('ping/block');
    await w.run(6);
    await w.control('ping/allow');
    await w.run(15);
    expect(w.incidents.opened).toHaveLength(0);
    askedOnly(bmc);
  });

  it('a management-link flap (down 3 s, up 5 s, three times), the BMC reading off: no incident', async () => {
    const bmc = await bmcs.start({ power: 'off' });
    const w = await world({ bmc });
    await warmUp(w);
    for (let i = 0; i < 3; i++) {
      await w.control('mgmt-link/down');
      await w.run(3);
      await w.control('mgmt-link/up');
      await w.run(5);
    }
    await w.run(10);
    expect(w.incidents.opened).toHaveLength(0);
    askedOnly(bmc);
  });

  it('a nova-compute restart while the host answers, its BMC on: no incident', async () => {
    const bmc = await bmcs.start({ power: 'on' });
    const w = await world({ bmc });
    await warmUp(w);
    await w.control('nova-compute/stop');
    await w.run(15);
    await w.control('nova-compute/start');
    await w.run(15);
    expect(w.incidents.opened).toHaveLength(0);
    askedOnly(bmc);
  });

  it('a BMC that answers garbage, or none that answers at all: the heartbeat decides, as without one', { timeout: 120_000 }, async () => {
    for (const kind of ['garbage', 'unreachable'] as const) {
      const bmc = kind === 'garbage' ? await bmcs.start({ power: 'off', mode: 'garbage' }) : 'unreachable';
      const w = await world({ bmc });
      await warmUp(w);
      await w.control('power-off');
      await w.run(16);
      expect(w.incidents.opened.map((o) => o.host)).toEqual([w.victim]);
      const ev = w.incidents.opened[0]!.evidence as { deadBy?: string; power?: { state: string } };
      expect(ev).toMatchObject({ deadBy: 'heartbeat', power: { state: 'unknown' } });
      await open.pop()!.close();
    }
  });
});
