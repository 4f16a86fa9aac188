import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../../src/config/types.js';
import { createDetector } from '../../../src/detector/detector.js';
import { createProber } from '../../../src/detector/prober.js';
import { arm, disarm, disarmAudit, disarmViews } from '../../../src/detector/ha-control.js';
import type { Detector, RoundReport } from '../../../src/detector/types.js';
import { createMetrics } from '../../../src/metrics/metrics.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { computeOf } from '../../helpers/compute.js';
import { pipelineSuite, waitClosed, waitFor, type PipelineWorld } from './world.js';

// Disarm and arm (issue 26) against real Redis, the whole pipeline (BullMQ, Redfish fencing, evacuation) and the
// real detector on the simulator: a disarmed host is reported and not recovered; a disarm asked while a recovery
// runs lets it finish and is pending until then; the disarms outlive the controller that read them (a new one,
// another owner of the lease, holds the same hosts back); arming lets the next round recover.

const s = pipelineSuite();

const HOUR = 3_600_000;

function detectorOf(w: PipelineWorld, config: Config, recovery: ReturnType<PipelineWorld['recovery']>, owner: string, metrics?: ReturnType<typeof createMetrics>): Detector {
  return createDetector({
    config, compute: computeOf(w.nova, { config }), prober: createProber(config.detector, { logger: silentLogger }), clock: w.sim.world.clock,
    redis: s.redis, incidents: recovery.opener, notifier: w.notifier, logger: silentLogger, owner, ...(metrics ? { metrics } : {}),
  });
}

describe('cmpha ha disarm / arm', () => {
  it('holds disarmed hosts back (reported, paged, nothing fenced), lets a running recovery finish, survives a new leader, and arming recovers', async () => {
    const w = await s.world({ hosts: 4, instancesPerHost: 1, spares: 1 });
    const config: Config = {
      ...w.config,
      detector: { ...w.config.detector, intervalMs: 1000, heartbeatIntervalMs: 500, minSilenceMs: 2000, singleSignalSilenceMs: 2000, maxDeadHosts: 100, maxDeadFraction: 1 },
    };
    const prefix = config.redis.prefix;
    const recovery = w.recovery(s.redis, { config });
    await recovery.startWorkers();
    // compute3 alone is in aggregate gpu.
    w.sim.world.aggregates.push({ id: 2, uuid: 'agg-gpu', name: 'gpu', availabilityZone: null, hosts: ['compute3'], metadata: {}, createdAt: w.sim.world.clock.now(), updatedAt: null });
    let detector = detectorOf(w, config, recovery, 'replica-a');
    let last: RoundReport | null = null;
    const round = async () => (last = await detector.runRound());
    const host = (r: RoundReport, name: string) => r.hosts.find((h) => h.host === name)!;
    await waitFor('every host healthy', async () => (await round()).hosts.every((h) => h.verdict === 'healthy' || h.verdict === 'maintenance'));

    // 1. An aggregate disarmed before its host dies: detection goes on, the host is reported and paged, no incident.
    const gpu = await disarm(s.redis, prefix, { scope: { kind: 'aggregate', name: 'gpu' }, reason: 'GPU firmware', by: 'alice', until: Date.now() + HOUR, now: Date.now() }, config.detector.disarmLimitMs);
    expect(gpu.view).toMatchObject({ state: 'in-effect', pendingOn: [] });
    await w.control('compute3', 'power-off');
    await waitFor('compute3 dead and held back', async () => host(await round(), 'compute3').action === 'blocked-disarmed', 30_000, 0);
    expect(host(last!, 'compute3')).toMatchObject({ verdict: 'dead', held: expect.stringContaining('HA is disarmed for aggregate gpu by alice') });
    expect((await recovery.incidents.list()).map((i) => i.host)).toEqual([]);
    expect(w.notifier.events.find((e) => e.host === 'compute3' && e.severity === 'critical')?.summary)
      .toMatch(/compute3 is confirmed dead and is not recovered: HA is disarmed for aggregate gpu .*Nothing is fenced or evacuated/);

    // 2. A disarm of everything while compute1's recovery runs: pending until it ends, and the recovery finishes.
    await w.control('compute1', 'power-off');
    await waitFor('compute1\'s incident', async () => host(await round(), 'compute1').action === 'open-incident', 30_000, 0);
    const id1 = host(last!, 'compute1').incidentId!;
    const all = await disarm(s.redis, prefix, { scope: { kind: 'all', name: '' }, reason: 'rack 7 power work', by: 'bob', until: null, now: Date.now() }, config.detector.disarmLimitMs);
    expect(all.view).toMatchObject({ state: 'pending', pendingOn: [id1] });
    await round();
    expect(last!.disarms?.find((d) => d.key === 'all')).toMatchObject({ state: 'pending', pendingOn: [id1] });
    await waitFor('the disarm of everything in effect', async () => (await round()).disarms?.find((d) => d.key === 'all')?.state === 'in-effect', 45_000, 200);
    expect((await recovery.incidents.get(id1))!.status).toBe('resolved');
    expect((await disarmAudit(s.redis, prefix, 10)).map((a) => `${a.action} ${a.scope.kind} ${a.by}`))
      .toEqual(['in-effect all controller', 'disarm all bob', 'disarm aggregate alice']);

    // 3. Another replica takes over (the first stops and gives up its lease): it reads the same disarms.
    await detector.stop();
    const registry = new Registry();
    detector = detectorOf(w, config, recovery, 'replica-b', createMetrics(registry));
    await w.control('compute2', 'power-off');
    await waitFor('compute2 dead and held back by the new leader', async () => {
      const r = await round();
      return r.leader && host(r, 'compute2').action === 'blocked-disarmed';
    }, 30_000, 0);
    expect(host(last!, 'compute2').held).toContain('HA is disarmed for the whole cloud by bob');
    const metrics = await registry.metrics();
    expect(metrics).toContain('cmpha_ha_disarmed{scope="all",state="in-effect"} 1');
    expect(metrics).toContain('cmpha_ha_disarmed{scope="aggregate:gpu",state="in-effect"} 1');
    expect(metrics).toContain('cmpha_ha_disarm_overdue{scope="all"} 0');
    expect((await recovery.incidents.list()).map((i) => i.host)).toEqual(['compute1']);

    // 4. Arming the whole cloud: compute2 is recovered at the next round; compute3's aggregate stays disarmed.
    await expect(arm(s.redis, prefix, { scope: { kind: 'zone', name: 'nowhere' }, by: 'bob', reason: '', now: Date.now() })).rejects.toThrow(/zone nowhere is not disarmed/);
    const armed = await arm(s.redis, prefix, { scope: { kind: 'host', name: 'compute2' }, by: 'bob', reason: '', now: Date.now() }).catch((e: Error) => e);
    expect(String(armed)).toContain('host compute2 is not disarmed (disarmed: aggregate:gpu, all)');
    expect((await arm(s.redis, prefix, { scope: { kind: 'all', name: '' }, by: 'bob', reason: 'rack 7 done', now: Date.now() })).map((e) => e.scope.kind).sort()).toEqual(['aggregate', 'all']);
    await disarm(s.redis, prefix, { scope: { kind: 'aggregate', name: 'gpu' }, reason: 'GPU firmware, still', by: 'alice', until: null, now: Date.now() }, config.detector.disarmLimitMs);
    await waitFor('compute2\'s incident once armed', async () => host(await round(), 'compute2').action === 'open-incident', 30_000, 0);
    expect(host(last!, 'compute3').action).toBe('blocked-disarmed');
    expect((await disarmViews(s.redis, prefix, Date.now(), config.detector.disarmLimitMs)).map((v) => v.key)).toEqual(['aggregate:gpu']);
    await waitClosed(recovery, host(last!, 'compute2').incidentId!);
    await detector.stop();
  });
});
