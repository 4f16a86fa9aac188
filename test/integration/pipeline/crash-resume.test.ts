import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { queueNames } from '../../../src/pipeline/queues.js';
import type { QueueTuning, Recovery } from '../../../src/pipeline/recovery-deps.js';
import { ProcessGroup, waitForLine } from '../../helpers/processes.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { newRedis } from '../../unit/pipeline/harness.js';
import { isEvacuate, pipelineWorld, waitClosed, waitFor, type PipelineWorld } from './world.js';

// A controller killed again and again during one incident: the recovery goes on however often it restarts,
// and a restarted controller resumes at once instead of waiting for the dead one's job locks to expire.

const group = new ProcessGroup();
let w: PipelineWorld | undefined;
let redisServer: RedisServer | undefined;
let redis: Redis | undefined;
let dir: string | undefined;

afterEach(async () => {
  await group.stopAll();
  await w?.close();
  w = undefined;
  redis?.disconnect();
  await redisServer?.stop();
  redisServer = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function setup(opts: { instances: number; evacuateSeconds: number; staggerMs?: number; tuning: QueueTuning; leaseMs?: number }) {
  redisServer = await startRedis();
  redis = newRedis(redisServer.url);
  w = await pipelineWorld({ hosts: 3, instancesPerHost: opts.instances, spares: 1, evacuateSeconds: opts.evacuateSeconds, redisUrl: redisServer.url, evacuation: { concurrency: 1 } });
  const movable = (await w.serversOn('compute1')).filter((s) => ['ACTIVE', 'ERROR'].includes(s.status)).map((s) => s.id);
  await w.control('compute1', 'power-off');
  await w.waitNovaDown('compute1');
  dir = mkdtempSync(path.join(tmpdir(), 'cmpha-crash-'));
  const spec = path.join(dir, 'spec.json');
  writeFileSync(spec, JSON.stringify({
    configPath: w.sim.configPath, redisUrl: redisServer.url, prefix: w.config.redis.prefix,
    evacuation: { concurrency: 1, verifyPollIntervalMs: 100, verifyTimeoutMs: 60_000, staggerMs: opts.staggerMs ?? 0, maxPerMinute: 10_000 },
    fencing: { timeoutMs: 5000, pollIntervalMs: 100, attempts: 2 },
    tuning: opts.tuning,
    ...(opts.leaseMs ? { leaseMs: opts.leaseMs, standbyEveryMs: 250 } : {}),
  }));
  const start = async (role: 'leader' | 'standby' | '' = '') => {
    const child = group.start(process.execPath, ['--import', 'tsx', 'test/helpers/recovery-worker.ts', spec], { cwd: process.cwd() });
    await waitForLine(child, new RegExp(`recovery worker \\d+ ready \\(${role}`), 60_000);
    return child;
  };
  // This process only opens the incident (which queues it); the workers run in the children.
  const r = w.recovery(redis);
  return { r, start, movable };
}

async function evacuatedOnce(world: PipelineWorld, ids: readonly string[]): Promise<void> {
  const evacuations = (await world.calls()).filter(isEvacuate);
  for (const id of ids) expect(evacuations.filter((c) => c.path.includes(id)), `evacuate calls for ${id}`).toHaveLength(1);
}

describe('a controller that keeps crashing', () => {
  it('killed five times while a server waits for its turn: the server is still evacuated, once, and the incident resolves', async () => {
    // A 30 s stagger holds the second server's job active in the rate gate, before its POST: each kill
    // lands on the same job. BullMQ fails a job after it stalled more than maxStalledCount times.
    const { r, start, movable } = await setup({ instances: 2, evacuateSeconds: 1, staggerMs: 30_000, tuning: { lockDurationMs: 2000, stalledIntervalMs: 1000, backoffMs: 200, unknownSettleMs: 1500 } });
    const evacuations = new Queue(queueNames(w!.config.redis.prefix).evacuate, { connection: redis! });
    try {
      let child = await start();
      await r.opener.open({ id: 'loop-1', host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
      await waitFor('the first server to be verified', async () => (await r.incidents.listInstances('loop-1')).some((e) => e.state === 'verified'), 60_000, 50);
      let since = 0;
      for (let kill = 1; kill <= 5; kill++) {
        await waitFor(`kill ${kill}: the waiting server's job to be taken up again`, async () =>
          (await evacuations.getActive()).some((j) => (j.processedOn ?? 0) >= since), 60_000, 50);
        await group.stop(child, 'SIGKILL');
        since = Date.now();
        child = await start();
      }
      const inc = await waitClosed(r, 'loop-1', 120_000);
      expect(inc.status).toBe('resolved');
      expect(inc.instances.filter((e) => e.state === 'verified').map((e) => e.id).sort()).toEqual([...movable].sort());
      await evacuatedOnce(w!, movable);
    } finally {
      await evacuations.close();
    }
  }, 240_000);

  it('SIGKILLed mid-evacuation and restarted: the new controller resumes well before the dead one\'s 30 s job lock expires', async () => {
    const { r, start, movable } = await setup({ instances: 4, evacuateSeconds: 1, tuning: { lockDurationMs: 30_000, stalledIntervalMs: 30_000, backoffMs: 200, unknownSettleMs: 1500 } });
    const first = await start();
    await r.opener.open({ id: 'resume-1', host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
    await waitFor('an evacuation to be accepted', async () => (await r.incidents.listInstances('resume-1')).some((e) => e.state === 'evacuated'), 60_000, 20);
    await group.stop(first, 'SIGKILL');
    const before = (await r.incidents.listInstances('resume-1')).filter((e) => e.state === 'verified').length;
    await start();
    const restarted = Date.now();
    await waitFor('the restarted controller to verify another server', async () =>
      (await r.incidents.listInstances('resume-1')).filter((e) => e.state === 'verified').length > before, 60_000, 100);
    // Bounded, not tight: without the hand-back this takes the lock's 30 s plus a stalled check.
    expect(Date.now() - restarted).toBeLessThan(20_000);
    const inc = await waitClosed(r, 'resume-1', 60_000);
    expect(inc.status).toBe('resolved');
    await evacuatedOnce(w!, movable);
    // The incident's own timeline says the recovery was resumed, not only the log.
    const resumed = inc.timeline.filter((e) => e.step === 'resume').map((e) => e.message);
    expect(resumed).toContainEqual(expect.stringMatching(/^recovery resumed: controller .+ \(pid \d+\) started with this incident open and takes it up where it stopped$/));
    expect(resumed).toContainEqual(expect.stringMatching(/^recovery resumed: a controller stopped while it held \d+ job\(s\) of this incident.*; controller .+ took them up$/));
  }, 180_000);
});

/** The worker id in the lock of an active job of `queue` that belongs to `incidentId` (its holder), once there is one. */
async function lockHolder(queue: Queue, incidentId: string): Promise<{ jobId: string; owner: string }> {
  let found: { jobId: string; owner: string } | undefined;
  await waitFor('an active evacuate job with its lock', async () => {
    for (const j of await queue.getActive()) {
      const token = j.id && (j.data as { incidentId?: string }).incidentId === incidentId ? await redis!.get(queue.toKey(`${j.id}:lock`)) : null;
      if (token) found = { jobId: j.id!, owner: token.split(':')[0]! };
    }
    return found !== undefined;
  }, 60_000, 20);
  return found!;
}

/**
 * A leader and a standby worker process on one lease; the leader is SIGKILLed while its evacuate job of incident
 * `id` holds the only evacuation slot. Then `check` runs with the evacuate queue and the job the dead leader held;
 * afterwards the incident must resolve with one evacuate per server.
 */
async function killLeaderMidEvacuation(id: string, leaseMs: number, tuning: QueueTuning,
  check: (ctx: { r: Recovery; evacuations: Queue; held: { jobId: string; owner: string }; killedAt: number }) => Promise<void>): Promise<void> {
  const { r, start, movable } = await setup({ instances: 3, evacuateSeconds: 1, leaseMs, tuning: { backoffMs: 200, unknownSettleMs: 1500, ...tuning } });
  const evacuations = new Queue(queueNames(w!.config.redis.prefix).evacuate, { connection: redis! });
  try {
    const leader = await start('leader');
    await start('standby');
    await r.opener.open({ id, host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
    await waitFor('an evacuation to be accepted', async () => (await r.incidents.listInstances(id)).some((e) => e.state === 'evacuated'), 60_000, 20);
    const held = await lockHolder(evacuations, id);
    await group.stop(leader, 'SIGKILL');
    await check({ r, evacuations, held, killedAt: Date.now() });
    const inc = await waitClosed(r, id, 90_000);
    expect(inc.status).toBe('resolved');
    await evacuatedOnce(w!, movable);
  } finally {
    await evacuations.close();
  }
}

describe('a standby that takes over from a killed leader', () => {
  // Two worker processes on one lease, as two `cmpha run` replicas: one leads and runs the jobs, the other stands
  // by. Evacuations run one at a time, so the killed leader's evacuate job holds the only slot until it is handed back.

  it('hands the dead leader\'s jobs back at once on taking the lease, before the dead workers\' "alive" marks lapse (job lock 60 s)', async () => {
    await killLeaderMidEvacuation('takeover-1', 3000, { lockDurationMs: 60_000, stalledIntervalMs: 60_000 }, async ({ evacuations, held, killedAt }) => {
      const mark = `${w!.config.redis.prefix}:worker-alive:${held.owner}`;
      // Handed back = no longer active under the dead worker's lock. Checked every 20 ms, and the dead worker's
      // mark (10 s without renewal) read right after: without the hand-back at takeover, the job waits for it to lapse.
      let markWhenResumed = -1;
      await waitFor('the dead leader\'s job to be handed back', async () => {
        const token = await redis!.get(evacuations.toKey(`${held.jobId}:lock`));
        if (token?.startsWith(`${held.owner}:`)) return false;
        markWhenResumed = await redis!.exists(mark);
        return true;
      }, 30_000, 20);
      console.log(`the dead leader's job was handed back ${Date.now() - killedAt} ms after the kill (lease 3 s, job lock 60 s)`);
      expect(markWhenResumed, 'the dead worker was still marked alive when its job was handed back').toBe(1);
    });
  }, 240_000);

  it('hands back at once a job whose lock expired before the takeover (lease longer than the job lock; BullMQ\'s stalled check 60 s)', async () => {
    // The lab's case: leader_lease = job_lock = 30 s, so by the time the standby leads the dead leader's locks are
    // gone, and BullMQ's own stalled check frees the job only after one or two stalled intervals.
    await killLeaderMidEvacuation('takeover-2', 4000, { lockDurationMs: 1500, stalledIntervalMs: 60_000 }, async ({ r, evacuations, held }) => {
      await waitFor('the dead leader\'s lock to expire', async () => (await redis!.exists(evacuations.toKey(`${held.jobId}:lock`))) === 0, 30_000, 20);
      const lockGoneWhileActive = (await evacuations.getActive()).some((j) => j.id === held.jobId);
      const before = (await r.incidents.listInstances('takeover-2')).filter((e) => e.state === 'verified').length;
      // Within half of BullMQ's stalled interval: without the hand-back, the dead leader's job holds the only
      // evacuation slot and nothing moves before a stalled check does.
      await waitFor('another server to be verified after the takeover', async () =>
        (await r.incidents.listInstances('takeover-2')).filter((e) => e.state === 'verified').length > before, 30_000, 100);
      expect(lockGoneWhileActive, 'the dead leader\'s job was still active with its lock expired').toBe(true);
    });
  }, 240_000);
});
