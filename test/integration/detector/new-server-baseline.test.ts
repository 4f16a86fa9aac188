import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/types.js';
import { createDetector } from '../../../src/detector/detector.js';
import { createProber } from '../../../src/detector/prober.js';
import { baselineAddresses, planInstances } from '../../../src/evacuator/select.js';
import { createOpenStack } from '../../../src/openstack/index.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { runSim, type RunningSim } from '../../../src/sim/index.js';
import { RecordingIncidents } from '../../helpers/recording-incidents.js';
import { computeOf } from '../../helpers/compute.js';

// A server booted onto a host the detector already baselined: Nova's changes-since names it, its host's
// baseline is refreshed within seconds (not at its five-minute turn), and when the host then dies the
// incident's evidence carries the new address, which the evacuation's network check watches. Nova's clock is
// two hours behind the controller's: the time asked for comes from Nova's own timestamps only.


let sim: RunningSim | null = null;
afterEach(async () => {
  await sim?.close();
  sim = null;
});

async function post(path: string, body?: unknown): Promise<unknown> {
  const r = await fetch(`${sim!.controlUrl}${path}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

describe('a server that appears on a healthy host', () => {
  it('is baselined within a few rounds and watched by the incident opened when its host dies', async () => {
    sim = await runSim({ hosts: 3, instancesPerHost: 1, spares: 0, reportIntervalSeconds: 1, serviceDownTimeSeconds: 3, bootSeconds: 0.1 });
    await post('/sim/clock', { novaSkewSeconds: -7200 });
    const loaded = await loadConfig({ path: sim.configPath, env: {} });
    const config: Config = {
      ...loaded,
      detector: {
        ...loaded.detector, intervalMs: 1000, heartbeatTimeoutMs: 2000, heartbeatIntervalMs: 1000, minSilenceMs: 2000, singleSignalSilenceMs: 2000,
        instanceNetworks: ['provider'], maxDeadHosts: 1, maxDeadFraction: 1,
      },
    };
    const { nova } = createOpenStack(config.cloud, { logger: silentLogger, clock: sim.world.clock, retryBaseDelayMs: 10 });
    const incidents = new RecordingIncidents();
    const detector = createDetector({
      config, compute: computeOf(nova, { config }), prober: createProber(config.detector, { logger: silentLogger }), clock: sim.world.clock, incidents, logger: silentLogger,
      // The periodic refresh never comes round in this test: only the change can baseline the new server.
      tuning: { baselineEveryRounds: 1_000_000 },
    });
    const round = async () => {
      await post('/sim/clock', { advanceSeconds: 1 });
      return detector.runRound();
    };
    for (let i = 0; i < 3; i++) await round();

    const booted = (await post('/sim/servers', { host: 'compute2', name: 'late' }) as { server: { id: string; ip: string } }).server;
    const listed = await nova.listServersOnHost('compute2');
    const late = listed.find((s) => s.id === booted.id)!;
    const ip = late.addresses.find((a) => a.network === 'provider')!.addr;
    // At a 1 s interval Nova is asked for its changes every 5 rounds: within 6 the host has been listed again.
    for (let i = 0; i < 6; i++) await round();

    await post('/sim/hosts/compute2/power-off');
    for (let i = 0; i < 10 && incidents.opened.length === 0; i++) await round();
    expect(incidents.opened.map((o) => o.host)).toEqual(['compute2']);
    const evidence = incidents.opened[0]!.evidence;
    expect(evidence.instances.addresses).toContainEqual(expect.objectContaining({ ip, server: 'late', baseline: true, result: 'silent' }));

    // What the pipeline plans from that evidence: the new server's address is watched after the evacuation.
    const plan = planInstances(listed, 'compute2', config.evacuation, baselineAddresses(JSON.parse(JSON.stringify(evidence))));
    expect(plan.find((e) => e.id === booted.id)?.watch).toEqual([expect.objectContaining({ ip })]);
  });
});
