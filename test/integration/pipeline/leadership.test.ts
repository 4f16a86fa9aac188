import { describe, expect, it } from 'vitest';
import { leaderOnlyFenceDriver, leaderOnlyNova } from '../../../src/leadership/leader-only.js';
import { LeaderLease } from '../../../src/leadership/lease.js';
import { fenceDriversFromConfig } from '../../../src/app/fence-parts.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { isEvacuate, isForceOff, isServicePut, pipelineWorld, waitClosed, waitFor, pipelineSuite } from './world.js';

// The fencing token end to end on the pipeline: two workers on one Redis, the simulator's call log as witness.

const s = pipelineSuite();

describe('a deposed leader in the recovery pipeline', () => {
  it('takes no action on the BMC or Nova and records nothing on the incident; the new leader recovers the host', async () => {
    s.w = await pipelineWorld({ hosts: 3, instancesPerHost: 3, spares: 1, redisUrl: s.redisUrl });
    const world = s.w;
    const key = `${world.config.redis.prefix}:detector:leader`;
    const a = new LeaderLease(s.redis, key, 60_000, 'replica-a');
    const b = new LeaderLease(s.redis, key, 60_000, 'replica-b');
    expect(await a.acquireOrRenew()).toBe(true);
    const drivers = fenceDriversFromConfig(world.config, silentLogger);
    const guarded = (lease: LeaderLease) => ({
      nova: leaderOnlyNova(world.nova, lease), leadership: lease,
      fenceDriverFor: (host: string) => { const d = drivers(host); return d ? leaderOnlyFenceDriver(d, lease) : null; },
    });
    const ra = world.recovery(s.redis, guarded(a));
    // As the controller does: losing the lease pauses the workers.
    a.onChange((leading) => { if (!leading) void ra.pauseWorkers(); });
    await ra.startWorkers();
    await world.control('compute1', 'hang');
    await world.waitNovaDown('compute1');
    // A froze past its lease: B took it. A has not run a round since, so it still believes it leads.
    await s.redis.del(key);
    expect(await b.acquireOrRenew()).toBe(true);
    expect(a.isLeader).toBe(true);
    const before = (await world.calls()).length;
    await ra.opener.open({ id: 'compute1-deposed', host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
    await waitFor('A to find out it was deposed', async () => !a.isLeader, 20_000);
    await new Promise((r) => setTimeout(r, 1500));
    const sinceOpen = (await world.calls()).slice(before);
    expect(sinceOpen.filter((c) => isForceOff(c) || isServicePut(c) || isEvacuate(c))).toEqual([]);
    const rec = await ra.incidents.getRecord('compute1-deposed');
    expect(rec?.status).toBe('open');

    const rb = world.recovery(s.redis, guarded(b));
    await rb.startWorkers();
    const inc = await waitClosed(rb, 'compute1-deposed', 60_000);
    expect(inc.status).toBe('resolved');
    const calls = await world.calls();
    expect(calls.filter(isForceOff)).toHaveLength(1);
    const moved = inc.instances.filter((e) => e.state === 'verified').map((e) => e.id);
    for (const id of moved) expect(calls.filter((c) => isEvacuate(c) && c.path.includes(id))).toHaveLength(1);
    expect(moved.length).toBeGreaterThan(0);
  }, 90_000);
});
