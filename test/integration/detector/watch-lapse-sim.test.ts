import { afterEach, describe, expect, it } from 'vitest';
import { cephStorageSignal } from '../../../src/app/storage-signal.js';
import { loadConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/types.js';
import { createDetector } from '../../../src/detector/detector.js';
import { createProber } from '../../../src/detector/prober.js';
import type { RoundReport } from '../../../src/detector/types.js';
import { createStorageFence } from '../../../src/fencing/fence-plan.js';
import { createOpenStack } from '../../../src/openstack/index.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { runSim, type RunningSim } from '../../../src/sim/index.js';
import { computeOf } from '../../helpers/compute.js';
import { RecordingIncidents } from '../../helpers/recording-incidents.js';

// The watch-lapse proof in the detector's loop: the simulator's cloud with every host in a namespace (real fping of
// its management, storage and instance addresses) and its Ceph (a hung client's watch lapses 30 s after its last
// ping), Nova reporting every 60 s (a cloud that raised report_interval; heartbeat_interval = 60s to match), the
// detector on the simulator's clock, one simulated second per step, as sim-timing.test.ts runs it.

const IP_BLOCK = 150 + Math.floor(Math.random() * 15);
const open: RunningSim[] = [];
afterEach(async () => {
  while (open.length > 0) await open.pop()!.close();
});

async function world() {
  const sim = await runSim({
    hosts: 4, instancesPerHost: 2, spares: 1, reportIntervalSeconds: 60, serviceDownTimeSeconds: 180,
    bootSeconds: 0.1, netns: true, ipBlock: IP_BLOCK,
  });
  open.push(sim);
  const state = await (await fetch(`${sim.controlUrl}/sim/state`)).json() as { servers: Array<{ host: string; vm_state: string; ip: string | null }> };
  const victim = state.servers.find((s) => s.vm_state === 'active' && s.ip)!.host;
  const loaded = await loadConfig({ path: sim.configPath, env: {} });
  const config: Config = {
    ...loaded,
    detector: { ...loaded.detector, probe: 'fping', instanceNetworks: ['provider'], probeCount: 1, probeTimeoutMs: 300, heartbeatIntervalMs: 60_000 },
    ceph: {
      user: 'cmpha', keyringFile: '', imagesRbdPool: 'vms', blocklistExpireS: 3600, confirmTimeoutMs: 10_000,
      commandTimeoutMs: 5000, writerProofTimeoutMs: 20_000, python: '/usr/bin/python3', simUrl: sim.controlUrl,
    },
  };
  const { nova } = createOpenStack(config.cloud, { logger: silentLogger, clock: sim.world.clock, retryBaseDelayMs: 10 });
  const compute = computeOf(nova, { config });
  const incidents = new RecordingIncidents(() => sim.world.clock.now());
  const post = async (path: string) => {
    const r = await fetch(`${sim.controlUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: path === '/sim/clock' ? JSON.stringify({ advanceSeconds: 1 }) : undefined });
    if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  };
  // As `cmpha run` wires it (controller.ts), on the simulated clock.
  const storageSignal = cephStorageSignal(config, createStorageFence(config.ceph!, config.fencing), compute, { now: () => sim.world.clock.now() });
  const detector = createDetector({
    config, compute, prober: createProber(config.detector, { logger: silentLogger }), clock: sim.world.clock, incidents, logger: silentLogger, storageSignal,
  });
  let t = 0;
  const reports: RoundReport[] = [];
  const run = async (seconds: number) => {
    for (let i = 0; i < seconds; i++) {
      await post('/sim/clock');
      t += 1;
      const r = t % (config.detector.intervalMs / 1000) === 0 ? await detector.runRound() : await detector.runSuspectCheck();
      if (r) reports.push(r);
    }
  };
  return {
    incidents, run, reports, victim,
    control: (action: string) => post(`/sim/hosts/${victim}/${action}`),
    now: () => sim.world.clock.now(),
    verdicts: () => reports.map((r) => r.hosts.find((h) => h.host === victim)?.verdict ?? '-'),
    last: () => reports.at(-1)!.hosts.find((h) => h.host === victim)!,
  };
}
type W = Awaited<ReturnType<typeof world>>;

/**
 * A healthy stretch that ends just after the victim's heartbeat was seen to move: a hang then leaves Nova's heartbeat
 * about a whole period (60 s) from overdue, so what proves the death within 40 s can only be the watch lapse. (A
 * hang late in the period is proven by the heartbeat first, as it should be; that phase would prove nothing here.)
 */
async function warmUpToBeat(w: W): Promise<void> {
  await w.run(20);
  const beat = w.last().evidence.nova.lastBeatAt;
  for (let i = 0; i < 70 && w.last().evidence.nova.lastBeatAt === beat; i++) await w.run(1);
  expect(w.last().evidence.nova.lastBeatAt).not.toBe(beat);
  expect(new Set(w.verdicts())).toEqual(new Set(['healthy']));
}

/** A healthy stretch (the instance baseline taken) ending at a random phase of the 60 s heartbeat. */
async function warmUp(w: W): Promise<void> {
  await w.run(20 + Math.floor(Math.random() * 40));
  expect(new Set(w.verdicts())).toEqual(new Set(['healthy']));
}

describe('the watch-lapse proof in the detector loop (simulated Ceph, real fping, Nova reporting every 60 s)', () => {
  it('hang: the incident opens once the watches lapsed, before Nova\'s heartbeat is overdue, and says why', { timeout: 150_000 }, async () => {
    const w = await world();
    await warmUpToBeat(w);
    await w.control('hang');
    const hungAt = w.now();
    await w.run(40);
    expect(w.incidents.opened.map((o) => o.host)).toEqual([w.victim]);
    const ev = w.incidents.opened[0]!.evidence;
    expect(ev.deadBy).toBe('watch-lapse');
    expect(ev.nova.says).toBe('up');
    expect(ev.storage).toMatchObject({ alive: false, lapsed: true });
    expect(ev.networks.map((n) => `${n.role}:${n.result}`)).toEqual(['mgmt:silent', 'storage:silent']);
    expect(ev.instances.baselineTotal).toBeGreaterThan(0);
    // Not before the watches could lapse (30 s after the hang), and before the heartbeat (61 s at the earliest).
    const took = (w.incidents.opened[0]!.openedAt - hungAt) / 1000;
    expect(took).toBeGreaterThanOrEqual(30);
    expect(took).toBeLessThan(41);
  });

  it('one of two networks down: management and instance links cut, nova-compute stopped, the storage link up: no incident', { timeout: 150_000 }, async () => {
    const w = await world();
    await warmUp(w);
    await w.control('instance-link/down');
    await w.control('mgmt-link/down');
    await w.control('nova-compute/stop');
    await w.run(45);
    expect(w.incidents.opened).toHaveLength(0);
    expect(w.last().verdict).toBe('isolated-mgmt');
    expect(w.last().evidence.networks.map((n) => `${n.role}:${n.result}`)).toEqual(['mgmt:silent', 'storage:alive']);
  });

  it('every ping lost for 40 s while the host runs: its watches never lapse, no incident', { timeout: 150_000 }, async () => {
    const w = await world();
    await warmUp(w);
    await w.control('ping/block');
    await w.run(40);
    expect(w.incidents.opened).toHaveLength(0);
    expect(w.verdicts()).not.toContain('dead');
    // Held past the 30 s a dead client's watch lingers: a live client, a live signal.
    expect(w.last().evidence.storage).toMatchObject({ alive: true });
    await w.control('ping/allow');
    await w.run(3);
    expect(w.last().verdict).toBe('healthy');
  });
});
