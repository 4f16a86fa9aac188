import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/types.js';
import { createDetector } from '../../../src/detector/detector.js';
import { createProber } from '../../../src/detector/prober.js';
import type { NotificationEvent, NotificationService } from '../../../src/notifier/types.js';
import { createOpenStack } from '../../../src/openstack/index.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { runSim, type RunningSim } from '../../../src/sim/index.js';
import { RecordingIncidents } from '../../helpers/recording-incidents.js';
import { computeOf } from '../../helpers/compute.js';

// A service list whose entries do not say what Nova says (a `state` outside up/down) must make the detector blind,
// not read every host as down: the simulator garbles the answer, the real client reads it, the sim probe answers.

class RecordingNotifier implements NotificationService {
  readonly events: NotificationEvent[] = [];
  async notify(e: NotificationEvent) { this.events.push(e); return []; }
}

let sim: RunningSim | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

describe('a garbled Nova service list', () => {
  it('leaves the detector blind (controller isolated, paged), never reads the hosts as down', async () => {
    sim = await runSim({ hosts: 3, instancesPerHost: 1, spares: 1, reportIntervalSeconds: 1, serviceDownTimeSeconds: 3 });
    const loaded = await loadConfig({ path: sim.configPath, env: {} });
    const config: Config = { ...loaded, detector: { ...loaded.detector, intervalMs: 1000, heartbeatTimeoutMs: 2000 } };
    const { nova } = createOpenStack(config.cloud, { logger: silentLogger, clock: sim.world.clock, retryBaseDelayMs: 5 });
    const incidents = new RecordingIncidents();
    const notifier = new RecordingNotifier();
    const d = createDetector({ config, compute: computeOf(nova, { config }), prober: createProber(config.detector, { logger: silentLogger }), clock: sim.world.clock, incidents, notifier, logger: silentLogger });
    expect((await d.runRound()).isolated).toBe(false);

    const r = await fetch(`${sim.controlUrl}/sim/faults`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ corrupt: [{ path: '/os-services', set: { 'services.*.state': 'sideways' } }] }),
    });
    expect(r.status).toBe(200);
    for (let i = 0; i < 3; i++) {
      const report = await d.runRound();
      expect(report.isolated).toBe(true);
      expect(report.isolationReason).toMatch(/cannot reach the Nova API: .*services\[0\]\.state is the string "sideways"/);
      expect(report.hosts.filter((h) => h.verdict !== 'healthy')).toEqual([]);
    }
    expect(incidents.opened).toEqual([]);
    expect(notifier.events.map((e) => e.type)).toEqual(['controller-isolated']);
  });
});
