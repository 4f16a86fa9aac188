import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { reconcileOrphans } from '../../../src/pipeline/reconcile-orphans.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { systemClock } from '../../../src/shared/time.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { newRedis } from '../../unit/pipeline/harness.js';
import { isEvacuate, isForceOff, pipelineWorld, waitClosed, waitFor, type PipelineWorld } from './world.js';
import { computeOf } from '../../helpers/compute.js';

// Redis restarted without persistence in the middle of an evacuation: the incident record and its jobs are
// gone, the host stays forced down and disabled "cmpha incident ID …" with servers on it. Nova's state is
// enough to find that recovery again and finish it, without a second evacuate for any server.

let w: PipelineWorld | undefined;
let server: RedisServer | undefined;
let redis: Redis | undefined;

afterEach(async () => {
  await w?.close();
  w = undefined;
  redis?.disconnect();
  redis = undefined;
  await server?.stop();
  server = undefined;
});

async function onHost(world: PipelineWorld, host: string): Promise<string[]> {
  const st = (await (await fetch(`${world.sim.controlUrl}/sim/state?host=${host}`)).json()) as { servers: Array<{ id: string; host: string }> };
  return st.servers.filter((s) => s.host === host).map((s) => s.id);
}

describe('a recovery whose incident record was lost', () => {
  it('is found again from Nova, re-opened under its id, re-fenced and finished: every server evacuated exactly once', async () => {
    server = await startRedis({ persist: false });
    redis = newRedis(server.url);
    w = await pipelineWorld({ hosts: 2, instancesPerHost: 6, spares: 1, evacuateSeconds: 1.5, redisUrl: server.url, evacuation: { concurrency: 1 } });
    const world = w;
    const movable = (await world.serversOn('compute1')).filter((s) => ['ACTIVE', 'ERROR'].includes(s.status)).map((s) => s.id);
    expect(movable.length).toBeGreaterThan(2);
    await world.control('compute1', 'power-off');
    await world.waitNovaDown('compute1');
    const r = world.recovery(redis);
    await r.startWorkers();
    await r.opener.open({ id: 'lost-1', host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
    await waitFor('the first server to be verified', async () => (await r.incidents.listInstances('lost-1')).some((e) => e.state === 'verified'), 30_000, 20);

    await server.restart();
    expect(await r.incidents.getRecord('lost-1')).toBeNull();
    // What is left: the host as the lost recovery left it, with servers still on it.
    const svc = (await world.nova.listComputeServices({ host: 'compute1' }))[0]!;
    expect(svc).toMatchObject({ forcedDown: true, status: 'disabled', disabledReason: expect.stringMatching(/^cmpha incident lost-1 /) });
    const stranded = (await onHost(world, 'compute1')).filter((id) => movable.includes(id));
    expect(stranded.length).toBeGreaterThan(0);
    const onHostBefore = (await onHost(world, 'compute1')).length;

    const deps = { compute: computeOf(world.nova), incidents: r.incidents, open: (req: Parameters<typeof r.opener.create>[0]) => r.opener.create(req), notifier: world.notifier, logger: silentLogger, clock: systemClock };
    const found = await reconcileOrphans(deps);
    expect(found).toEqual([{ host: 'compute1', incidentId: 'lost-1', servers: onHostBefore, resumed: true }]);
    const inc = await waitClosed(r, 'lost-1', 60_000);
    expect(inc.status).toBe('resolved');
    expect((await onHost(world, 'compute1')).filter((id) => movable.includes(id))).toEqual([]);
    // The stranded servers are what the resumed incident evacuated, each verified off the host.
    const verified = inc.instances.filter((e) => e.state === 'verified');
    expect(verified.map((e) => e.id).sort()).toEqual([...stranded].sort());
    expect(verified.every((e) => e.target !== 'compute1')).toBe(true);
    const evacuations = (await world.calls()).filter(isEvacuate);
    for (const id of movable) expect(evacuations.filter((c) => c.path.includes(id)), `evacuate calls for ${id}`).toHaveLength(1);
    // Re-fenced: the power state was read back from the BMC again; it reads off, so no power-off was sent.
    expect(inc.timeline.some((t) => t.step === 'fence' && /reads back off \(it was already off\)/.test(t.message))).toBe(true);
    expect((await world.calls()).filter(isForceOff)).toEqual([]);
    const reconcile = inc.timeline.find((t) => t.step === 'reconcile')!;
    expect(reconcile).toMatchObject({ level: 'warning', message: expect.stringMatching(/incident record was lost .* Nova lists \d+ server\(s\) on it; resuming incident lost-1/) });
    expect(world.notifier.events.filter((e) => e.type === 'orphan-resumed')).toHaveLength(1);
    // Closed now: the same check finds nothing more to do.
    expect(await reconcileOrphans(deps)).toEqual([]);
  }, 120_000);
});
