import { describe, expect, it } from 'vitest';
import { Secret } from '../../../src/config/secret.js';
import type { Config } from '../../../src/config/types.js';
import { createDetector } from '../../../src/detector/detector.js';
import { createProber } from '../../../src/detector/prober.js';
import type { RoundReport } from '../../../src/detector/types.js';
import type { Recovery } from '../../../src/pipeline/create-recovery.js';
import { fenceDriversFromConfig } from '../../../src/app/fence-parts.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { pipelineSuite, waitClosed, waitFor, type PipelineWorld } from './world.js';
import { computeOf } from '../../helpers/compute.js';

// Issue 24's first defect, replayed: compute1's BMC rejects cmpha's password, so its incident waits for a fence;
// the host is repaired outside cmpha (it answers again, its heartbeat returns); later it loses power for real,
// with the right password configured by then. The waiting incident must end when its host comes back, and the
// real failure must get an incident of its own that fences and evacuates. Real Redis, the real detector on the
// simulator's clock, the whole pipeline (BullMQ), Redfish fencing through the simulator's BMCs.

const s = pipelineSuite();

function controller(w: PipelineWorld, config: Config): { recovery: Recovery; round(): Promise<RoundReport> } {
  const recovery = w.recovery(s.redis, { config, fenceDriverFor: fenceDriversFromConfig(config, silentLogger) });
  const detector = createDetector({
    config, compute: computeOf(w.nova, { config }), prober: createProber(config.detector, { logger: silentLogger }), clock: w.sim.world.clock,
    incidents: recovery.opener, notifier: w.notifier, logger: silentLogger,
  });
  return { recovery, round: () => detector.runRound() };
}

/** Detector rounds (each on a fresh look at the simulator) until `done` says what it was waiting for. */
async function roundsUntil(c: { round(): Promise<RoundReport> }, what: string, done: (r: RoundReport) => boolean | Promise<boolean>, timeoutMs = 30_000) {
  let last: RoundReport | undefined;
  await waitFor(what, async () => {
    last = await c.round();
    return done(last);
  }, timeoutMs, 200);
  return last!;
}

const compute1 = (r: RoundReport) => r.hosts.find((h) => h.host === 'compute1');

describe('an incident waiting for a fence watches its host', () => {
  it('BMC password wrong → host repaired → real power loss: the first incident is aborted, the second fenced and evacuated', async () => {
    const w = await s.world({ hosts: 2, instancesPerHost: 2, spares: 1 });
    const base: Config = {
      ...w.config,
      detector: { ...w.config.detector, intervalMs: 1000, heartbeatIntervalMs: 500, minSilenceMs: 2000, singleSignalSilenceMs: 2000, maxDeadHosts: 2, maxDeadFraction: 1 },
    };
    const c1 = base.hosts.compute1!;
    if (c1.fence.driver !== 'redfish') throw new Error('the simulator\'s hosts fence through Redfish');
    const wrong: Config = { ...base, hosts: { ...base.hosts, compute1: { ...c1, fence: { ...c1.fence, password: new Secret('not-the-password') } } } };
    const first = controller(w, wrong);
    await first.recovery.startWorkers();
    await roundsUntil(first, 'every host healthy', (r) => r.hosts.every((h) => h.verdict === 'healthy' || h.verdict === 'maintenance'));

    await w.control('compute1', 'power-off');
    const opened = await roundsUntil(first, 'an incident for compute1', (r) => compute1(r)?.action === 'open-incident');
    const firstId = compute1(opened)!.incidentId!;
    const waiting = await waitClosed(first.recovery, firstId, 45_000, ['awaiting_fence']);
    expect(waiting.status).toBe('awaiting_fence');
    // The page goes out just after the status is written.
    await waitFor('the fence-failed page', async () => w.notifier.events.some((e) => e.incidentId === firstId && e.type === 'fence-failed'));
    // The page that its recovery started names what cmpha heard: the signals that answered and those that were silent.
    expect(w.notifier.events.find((e) => e.incidentId === firstId && e.type === 'incident-opened')?.summary)
      .toMatch(/^compute1 is down \(answered: none; silent: management IP \S+[^)]*\): fencing and evacuating its instances$/);

    // Repaired outside cmpha: powered on, it answers and its nova-compute reports again.
    await w.control('compute1', 'power-on');
    const back = await roundsUntil(first, 'the waiting incident to end', (r) => compute1(r)?.action === 'incident-aborted');
    expect(compute1(back)!.incidentId).toBe(firstId);
    const aborted = (await first.recovery.incidents.get(firstId))!;
    expect(aborted.status).toBe('aborted');
    expect(aborted.error).toMatchObject({ code: 'host_came_back', message: expect.stringContaining('host came back before it was fenced') });
    expect(aborted.lifeSeen?.what).toMatch(/management IP \S+ answers/);
    expect(aborted.timeline.map((t) => t.message).join('\n')).toMatch(/compute1 showed life while its incident was awaiting_fence: management IP/);
    await waitFor('the incident-aborted notice', async () => w.notifier.events.some((e) => e.incidentId === firstId && e.type === 'incident-aborted'));
    expect(w.notifier.events.find((e) => e.incidentId === firstId && e.type === 'incident-aborted')!.summary).toMatch(/"fence failed" page needs no action/);
    await roundsUntil(first, 'compute1 healthy again', (r) => compute1(r)?.verdict === 'healthy');

    // The operator fixes the password and restarts the controller.
    await first.recovery.stop();
    const second = controller(w, base);
    await second.recovery.startWorkers();
    await roundsUntil(second, 'compute1 healthy to the new controller', (r) => compute1(r)?.verdict === 'healthy');
    const servers = (await w.serversOn('compute1')).filter((x) => x.status === 'ACTIVE').map((x) => x.id);
    expect(servers.length).toBeGreaterThan(0);

    await w.control('compute1', 'power-off');
    const reopened = await roundsUntil(second, 'a new incident for compute1', (r) => compute1(r)?.action === 'open-incident');
    const secondId = compute1(reopened)!.incidentId!;
    expect(secondId).not.toBe(firstId);
    const done = await waitClosed(second.recovery, secondId, 60_000);
    expect(done.status).toBe('resolved');
    expect(done.fence).toMatchObject({ driver: 'redfish' });
    expect(done.instances.filter((e) => servers.includes(e.id)).map((e) => e.state)).toEqual(servers.map(() => 'verified'));
  });
});
