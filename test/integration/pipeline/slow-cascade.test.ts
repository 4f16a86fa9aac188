import { describe, expect, it } from 'vitest';
import type { Config } from '../../../src/config/types.js';
import { createDetector } from '../../../src/detector/detector.js';
import { createProber } from '../../../src/detector/prober.js';
import { resume } from '../../../src/detector/storm-brake-store.js';
import type { RoundReport } from '../../../src/detector/types.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { computeOf } from '../../helpers/compute.js';
import { pipelineSuite, waitClosed, waitFor } from './world.js';

// Issue 26's slow cascade: hosts lost one at a time, each recovered (fenced, disabled: maintenance to the detector)
// before the next dies, never make many dead at once, so max_dead_hosts never trips. max_recoveries = 2 per 30m:
// the second recovery in the zone and aggregate passes, the third trips the brake, pages, and waits for
// `cmpha resume`. Real Redis, the whole pipeline, the real detector on the simulator (its zones and aggregates).

const s = pipelineSuite();

describe('the slow-cascade brake', () => {
  it('max_recoveries = 2 per 30m: two hosts recovered one after the other pass, the third trips and pages; `cmpha resume` lets it through', async () => {
    const w = await s.world({ hosts: 5, instancesPerHost: 1, spares: 1 });
    const config: Config = {
      ...w.config,
      detector: {
        ...w.config.detector, intervalMs: 1000, heartbeatIntervalMs: 500, minSilenceMs: 2000, singleSignalSilenceMs: 2000,
        maxDeadHosts: 100, maxDeadFraction: 1, maxRecoveries: { count: 2, windowMs: 30 * 60_000 },
      },
    };
    const recovery = w.recovery(s.redis, { config });
    await recovery.startWorkers();
    const detector = createDetector({
      config, compute: computeOf(w.nova, { config }), prober: createProber(config.detector, { logger: silentLogger }), clock: w.sim.world.clock,
      redis: s.redis, incidents: recovery.opener, notifier: w.notifier, logger: silentLogger,
    });
    let last: RoundReport | null = null;
    const round = async () => (last = await detector.runRound());
    const action = (host: string) => last!.hosts.find((h) => h.host === host)?.action;
    await waitFor('every host healthy', async () => (await round()).hosts.every((h) => h.verdict === 'healthy' || h.verdict === 'maintenance'));

    for (const victim of ['compute1', 'compute2']) {
      await w.control(victim, 'power-off');
      await waitFor(`${victim}'s incident`, async () => { await round(); return action(victim) === 'open-incident'; }, 30_000, 0);
      expect(last!.stormBrake.active).toBe(false);
      await waitClosed(recovery, last!.hosts.find((h) => h.host === victim)!.incidentId!);
    }
    // Both recovered: they read maintenance now, nothing is dead at once.
    await round();
    expect(last!.hosts.filter((h) => h.verdict === 'dead')).toEqual([]);
    expect(last!.stormBrake.active).toBe(false);

    await w.control('compute3', 'power-off');
    await waitFor('compute3 held by the brake', async () => { await round(); return action('compute3') === 'blocked-storm-brake'; }, 30_000, 0);
    expect(last!.stormBrake).toMatchObject({ active: true, reason: expect.stringMatching(/3 recoveries in (zone \S+|aggregate compute-pool) within 30 min \(limit max_recoveries = 2 per 30m\): compute1, compute2, compute3/) });
    expect((await recovery.incidents.list()).map((i) => i.host).sort()).toEqual(['compute1', 'compute2']);
    expect(w.notifier.events.filter((e) => e.type === 'storm-brake')).toHaveLength(1);

    await resume(s.redis, config.redis.prefix);
    await waitFor('compute3\'s incident after the resume', async () => { await round(); return action('compute3') === 'open-incident'; }, 30_000, 0);
    expect(last!.stormBrake).toMatchObject({ active: false, overridden: true });
    await waitClosed(recovery, last!.hosts.find((h) => h.host === 'compute3')!.incidentId!);
  });
});
