import { describe, expect, it } from 'vitest';
import type { Config } from '../../../src/config/types.js';
import { createDetector } from '../../../src/detector/detector.js';
import { createProber } from '../../../src/detector/prober.js';
import { resume } from '../../../src/detector/storm-brake-store.js';
import type { RoundReport } from '../../../src/detector/types.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { computeOf } from '../../helpers/compute.js';
import { pipelineSuite, waitFor } from './world.js';

// Issue 24's staggered storm: three of six hosts die 2.5 s apart, max_dead_hosts = 2. A host used to leave the
// count once its incident had fenced and disabled it, so a storm that arrived one host at a time never tripped the
// brake. Real Redis (brake state, `cmpha resume`), the whole pipeline (BullMQ, Redfish fencing, force-down,
// disable), the real detector on the simulator's clock.

const s = pipelineSuite();

describe('the storm brake counts every dead host', () => {
  it('three of six hosts dying 2.5 s apart trip it (max_dead_hosts = 2): the third opens nothing and pages; `cmpha resume` lets it through', async () => {
    const w = await s.world({ hosts: 6, instancesPerHost: 1, spares: 1 });
    const config: Config = {
      ...w.config,
      detector: { ...w.config.detector, intervalMs: 1000, heartbeatIntervalMs: 500, minSilenceMs: 2000, singleSignalSilenceMs: 2000, maxDeadHosts: 2, maxDeadFraction: 1 },
    };
    const recovery = w.recovery(s.redis, { config });
    await recovery.startWorkers();
    const detector = createDetector({
      config, compute: computeOf(w.nova, { config }), prober: createProber(config.detector, { logger: silentLogger }), clock: w.sim.world.clock,
      redis: s.redis, incidents: recovery.opener, notifier: w.notifier, logger: silentLogger,
    });
    const reports: RoundReport[] = [];
    const round = async () => { reports.push(await detector.runRound()); return reports.at(-1)!; };
    await waitFor('every host healthy', async () => (await round()).hosts.every((h) => h.verdict === 'healthy' || h.verdict === 'maintenance'));

    const victims = ['compute1', 'compute2', 'compute3'];
    const t0 = w.sim.world.clock.now();
    let killed = 0;
    const kill = async () => {
      while (killed < victims.length && w.sim.world.clock.now() >= t0 + killed * 2500) await w.control(victims[killed++]!, 'power-off');
    };
    const action = (r: RoundReport, host: string) => r.hosts.find((h) => h.host === host)?.action;
    await waitFor('the third host to be held by the brake', async () => {
      await kill();
      const r = await round();
      return killed === victims.length && action(r, 'compute3') === 'blocked-storm-brake';
    }, 60_000, 0);
    const braked = reports.at(-1)!;
    expect(braked.stormBrake).toMatchObject({ active: true, reason: expect.stringContaining('3 hosts look dead or suspect (limit max_dead_hosts = 2)') });
    // The first two were recovering (fenced, forced down, disabled: no longer dead to Nova's eye) when the third died.
    const opened = (await recovery.incidents.list()).map((i) => i.host).sort();
    expect(opened).toEqual(['compute1', 'compute2']);
    expect(w.notifier.events.filter((e) => e.type === 'storm-brake')).toHaveLength(1);
    expect(w.notifier.events.find((e) => e.type === 'host-suspected' && e.host === 'compute3' && e.severity === 'critical')?.summary)
      .toMatch(/no incident was opened \(blocked-storm-brake\)/);

    const asked = await resume(s.redis, config.redis.prefix);
    expect(asked.brakeActive).toBe(true);
    await waitFor('compute3\'s incident after the resume', async () => action(await round(), 'compute3') === 'open-incident', 30_000, 0);
    expect(reports.at(-1)!.stormBrake).toMatchObject({ active: false, overridden: true });
    expect((await recovery.incidents.list()).map((i) => i.host).sort()).toEqual(victims);
  });
});
