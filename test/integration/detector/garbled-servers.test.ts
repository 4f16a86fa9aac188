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
import { RecordingNotifier } from '../../helpers/recording-notifier.js';
import { computeOf } from '../../helpers/compute.js';

// A dead host whose servers Nova cannot list readably (a garbled GET /servers/detail): no incident can be opened on
// such evidence, and none is; but the host must not sit as a quiet "suspect" either. The fault matrix saw 25 s of
// log warnings and no page. The simulator garbles the answer, the real client reads it, the detector runs on the
// simulator's clock, one second a round.

let sim: RunningSim | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

const GARBLED: Array<[string, Record<string, unknown>]> = [
  ['not a list', { replace: { servers: { id: 'x' } } }],
  ['servers without ids', { unset: ['servers.*.id'] }],
  ['over the size cap', { padBytes: 200_000 }],
];

describe('a dead host whose servers cannot be listed', () => {
  for (const [what, rule] of GARBLED) {
    it(`${what}: hands off, but paged and said in its record; the incident opens once Nova lists them`, async () => {
      sim = await runSim({ hosts: 3, instancesPerHost: 2, spares: 1, reportIntervalSeconds: 1, serviceDownTimeSeconds: 3, bootSeconds: 0.1 });
      const loaded = await loadConfig({ path: sim.configPath, env: {} });
      const config: Config = { ...loaded, cloud: { ...loaded.cloud, maxResponseBytes: 100_000 }, detector: { ...loaded.detector, heartbeatIntervalMs: 1000 } };
      const { nova } = createOpenStack(config.cloud, { logger: silentLogger, clock: sim.world.clock, retryBaseDelayMs: 5 });
      const incidents = new RecordingIncidents(() => sim!.world.clock.now());
      const notifier = new RecordingNotifier();
      const d = createDetector({ config, compute: computeOf(nova, { config }), prober: createProber(config.detector, { logger: silentLogger }), clock: sim.world.clock, incidents, notifier, logger: silentLogger });
      const reports: RoundReport[] = [];
      const tick = async () => {
        sim!.world.clock.advance(1000);
        sim!.world.advance();
        reports.push(await d.runRound());
      };
      for (let i = 0; i < 15; i++) await tick();
      const victim = sim.world.serverList.find((s) => s.vmState === 'active')!.host!;
      expect(reports.at(-1)!.hosts.find((h) => h.host === victim)!.verdict).toBe('healthy');

      const faults = (body: unknown) => fetch(`${sim!.controlUrl}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect((await faults({ corrupt: [{ path: '/servers/detail', ...rule }] })).status).toBe(200);
      await fetch(`${sim.controlUrl}/sim/hosts/${victim}/power-off`, { method: 'POST' });
      for (let i = 0; i < 25; i++) await tick();
      expect(incidents.opened).toEqual([]);
      const pages = notifier.events.filter((e) => e.host === victim && e.severity === 'critical');
      expect(pages).toHaveLength(1);
      expect(pages[0]!.summary).toMatch(new RegExp(`${victim} looks dead .* and cannot be recovered: Nova's answers about its servers are unreadable \\(.+\\); cmpha keeps its hands off`));
      const last = reports.at(-1)!.hosts.find((h) => h.host === victim)!;
      expect(last.verdict).toBe('suspect');
      expect(last.evidence.unrecoverable).toMatch(/^Nova's answers about its servers are unreadable/);
      expect(last.evidence.reasons.join('\n')).toMatch(/but it cannot be recovered: Nova's answers about its servers are unreadable/);

      expect((await faults({ corrupt: [] })).status).toBe(200);
      for (let i = 0; i < 8 && incidents.opened.length === 0; i++) await tick();
      expect(incidents.opened.map((o) => o.host)).toEqual([victim]);
    });
  }
});
