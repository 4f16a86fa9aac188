import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ProcessGroup, waitForLine } from '../../helpers/processes.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { newRedis } from '../../unit/pipeline/harness.js';
import { FAST_QUEUE, isEvacuate, pipelineWorld, waitClosed, waitFor, type PipelineWorld } from './world.js';

// The pipeline survives its own crash, a Redis restart and a flaky Nova, and still sends exactly one
// evacuate per server.

const group = new ProcessGroup();
let w: PipelineWorld | undefined;
const redisServers: RedisServer[] = [];
const conns: Redis[] = [];
const dirs: string[] = [];

afterEach(async () => {
  await group.stopAll();
  await w?.close();
  w = undefined;
  while (conns.length) conns.pop()!.disconnect();
  while (redisServers.length) await redisServers.pop()!.stop();
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});
afterAll(async () => {
  await group.stopAll();
});

async function redisFor(persist = false): Promise<{ server: RedisServer; redis: Redis }> {
  const server = await startRedis({ persist });
  redisServers.push(server);
  const redis = newRedis(server.url);
  conns.push(redis);
  return { server, redis };
}

async function evacuatedOnce(world: PipelineWorld, ids: readonly string[]): Promise<void> {
  const evacuations = (await world.calls()).filter(isEvacuate);
  for (const id of ids) expect(evacuations.filter((c) => c.path.includes(id)), `evacuate calls for ${id}`).toHaveLength(1);
  expect(evacuations).toHaveLength(ids.length);
}

describe('recovery pipeline resilience', () => {
  let movable: string[] = [];

  it('a worker SIGKILLed mid-evacuation: another picks the incident up and finishes it, one evacuate per server', async () => {
    const { server, redis } = await redisFor();
    w = await pipelineWorld({ hosts: 3, instancesPerHost: 8, spares: 1, evacuateSeconds: 1.5, redisUrl: server.url, evacuation: { concurrency: 2 } });
    movable = (await w.serversOn('compute1')).filter((s) => ['ACTIVE', 'ERROR'].includes(s.status)).map((s) => s.id);
    await w.control('compute1', 'power-off');
    await w.waitNovaDown('compute1');

    const dir = mkdtempSync(path.join(tmpdir(), 'cmpha-worker-'));
    dirs.push(dir);
    const spec = path.join(dir, 'spec.json');
    writeFileSync(spec, JSON.stringify({
      configPath: w.sim.configPath, redisUrl: server.url, prefix: w.config.redis.prefix,
      evacuation: { concurrency: 2, verifyPollIntervalMs: 100, verifyTimeoutMs: 30_000, staggerMs: 0, maxPerMinute: 10_000 },
      fencing: { timeoutMs: 5000, pollIntervalMs: 100, attempts: 2 },
      tuning: FAST_QUEUE,
    }));
    const start = async () => {
      const child = group.start(process.execPath, ['--import', 'tsx', 'test/helpers/recovery-worker.ts', spec], { cwd: process.cwd() });
      await waitForLine(child, /recovery worker \d+ ready/, 30_000);
      return child;
    };
    const first = await start();
    // This process only opens the incident (which queues it); the workers run elsewhere.
    const r = w.recovery(redis);
    await r.opener.open({ id: 'kill-1', host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
    await waitFor('evacuations to be under way', async () => {
      const states = (await r.incidents.listInstances('kill-1')).map((e) => e.state);
      return states.includes('evacuating') || states.includes('evacuated');
    }, 30_000, 20);
    await group.stop(first, 'SIGKILL');
    const mid = await r.incidents.listInstances('kill-1');
    expect(mid.some((e) => e.state !== 'verified')).toBe(true);

    await start();
    const inc = await waitClosed(r, 'kill-1', 60_000);
    expect(inc.status).toBe('resolved');
    expect(inc.instances.filter((e) => e.state === 'verified').map((e) => e.id).sort()).toEqual([...movable].sort());
    await evacuatedOnce(w, movable);
  }, 90_000);

  it('Redis restarted mid-incident: the incident completes, one evacuate per server', async () => {
    const { server, redis } = await redisFor(true);
    w = await pipelineWorld({ hosts: 3, instancesPerHost: 6, spares: 1, evacuateSeconds: 1, redisUrl: server.url, evacuation: { concurrency: 2 } });
    movable = (await w.serversOn('compute2')).filter((s) => ['ACTIVE', 'ERROR'].includes(s.status)).map((s) => s.id);
    await w.control('compute2', 'power-off');
    await w.waitNovaDown('compute2');
    const r = w.recovery(redis);
    await r.startWorkers();
    await r.opener.open({ id: 'redis-1', host: 'compute2', failureStartedAt: Date.now(), evidence: {} });
    await waitFor('evacuations to be under way', async () => (await r.incidents.listInstances('redis-1')).some((e) => e.state === 'evacuated'), 30_000, 20);
    await server.restart();
    const inc = await waitClosed(r, 'redis-1', 60_000);
    expect(inc.status).toBe('resolved');
    expect(inc.instances.filter((e) => e.state === 'verified')).toHaveLength(movable.length);
    await evacuatedOnce(w, movable);
  });

  it('Nova answering 500 to a third of calls: completes through retries, one evacuate per server', async () => {
    const { server, redis } = await redisFor();
    w = await pipelineWorld({ hosts: 3, instancesPerHost: 6, spares: 1, redisUrl: server.url });
    movable = (await w.serversOn('compute3')).filter((s) => ['ACTIVE', 'ERROR'].includes(s.status)).map((s) => s.id);
    await w.control('compute3', 'power-off');
    await w.waitNovaDown('compute3');
    await w.faults({ errorRate: 0.33, services: ['nova'] });
    const r = w.recovery(redis);
    await r.startWorkers();
    await r.opener.open({ id: 'flaky-1', host: 'compute3', failureStartedAt: Date.now(), evidence: {} });
    const inc = await waitClosed(r, 'flaky-1', 90_000);
    expect(inc.status).toBe('resolved');
    // Reads and writes alike were answered 500 (the call log holds only the writes, too few to be sure one failed).
    expect((await w.injectedFaults()).errors).toBeGreaterThan(0);
    // Evacuate POSTs answered 500 were not applied: each server was accepted exactly once.
    const accepted = (await w.calls()).filter((c) => isEvacuate(c) && c.status === 200);
    for (const id of movable) expect(accepted.filter((c) => c.path.includes(id)), `accepted evacuations of ${id}`).toHaveLength(1);
    expect(inc.instances.filter((e) => e.state === 'verified')).toHaveLength(movable.length);
  });
});
