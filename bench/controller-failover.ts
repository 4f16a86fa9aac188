/**
 * How long recovery stalls when the controller itself fails, with real `cmpha run` processes (the built CLI),
 * a real redis-server and the simulated cloud:
 *  - crash resume: the leader is SIGKILLed right after its first evacuate POST and restarted at once; the gap
 *    is from the kill to the next evacuate POST (the restarted controller continuing), and the end-to-end time
 *    until every server is ACTIVE on the spare;
 *  - takeover: the leader of two replicas is SIGKILLed; the time until the standby logs that it took the lease.
 * Run: npm run build && npx tsx bench/controller-failover.ts [--lease 30] [--runs 1]
 */
import { runSim } from '../src/sim/index.js';
import {
  allActiveOn, evacuationsPerServer, isEvacuatePost, movableServers, simCalls, startCmphaRun, until, writeRunConfig,
} from '../test/helpers/cmpha-process.js';
import { ProcessGroup } from '../test/helpers/processes.js';
import { startRedis } from '../test/helpers/redis.js';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const leaseSeconds = arg('lease', 30);
const runs = arg('runs', 1);

async function crashResume(seed: number): Promise<{ leadMs: number; gapMs: number; totalMs: number; posts: number; servers: number }> {
  const group = new ProcessGroup();
  const redis = await startRedis({ persist: true });
  const sim = await runSim({ hosts: 3, instancesPerHost: 4, spares: 1, reportIntervalSeconds: 1, serviceDownTimeSeconds: 6, evacuateSeconds: 2, seed });
  try {
    const cfg = await writeRunConfig(sim, { prefix: `bench-${seed}`, redis: [`url = ${redis.url}`], leaseSeconds, evacuation: ['concurrency = 1'] });
    const first = startCmphaRun(group, cfg);
    await first.waitForLog(/took the leader lease/, 60_000);
    const movable = movableServers(sim, 'compute1');
    await fetch(`${sim.controlUrl}/sim/hosts/compute1/power-off`, { method: 'POST' });
    await until(async () => (await simCalls(sim)).some(isEvacuatePost), 120_000, 'the first evacuate POST');
    process.kill(first.pid, 'SIGKILL');
    const killedAt = Date.now();
    await first.exited();
    const before = (await simCalls(sim)).filter(isEvacuatePost).length;
    const second = startCmphaRun(group, cfg);
    const leadMs = (await second.waitForLog(/took the leader lease/, 120_000)) - killedAt;
    await until(async () => (await simCalls(sim)).filter(isEvacuatePost).length > before, 300_000, 'the next evacuate POST');
    const gapMs = Date.now() - killedAt;
    await until(() => allActiveOn(sim, movable, 'spare1'), 300_000, 'every server ACTIVE on the spare');
    const totalMs = Date.now() - killedAt;
    const posts = [...evacuationsPerServer(await simCalls(sim)).values()].reduce((a, b) => a + b, 0);
    return { leadMs, gapMs, totalMs, posts, servers: movable.length };
  } finally {
    await group.stopAll();
    await sim.close();
    await redis.stop();
  }
}

async function takeover(seed: number): Promise<number> {
  const group = new ProcessGroup();
  const redis = await startRedis();
  const sim = await runSim({ hosts: 3, instancesPerHost: 2, spares: 1, reportIntervalSeconds: 1, serviceDownTimeSeconds: 6, evacuateSeconds: 1, seed });
  try {
    const a = startCmphaRun(group, await writeRunConfig(sim, { prefix: `bench-t-${seed}`, redis: [`url = ${redis.url}`], leaseSeconds }));
    await a.waitForLog(/took the leader lease/, 60_000);
    const b = startCmphaRun(group, await writeRunConfig(sim, { prefix: `bench-t-${seed}`, redis: [`url = ${redis.url}`], leaseSeconds }));
    await b.waitForLog(/cmpha controller started/, 60_000);
    await new Promise((r) => setTimeout(r, 3000));
    process.kill(a.pid, 'SIGKILL');
    const killedAt = Date.now();
    return (await b.waitForLog(/took the leader lease/, (leaseSeconds + 60) * 1000)) - killedAt;
  } finally {
    await group.stopAll();
    await sim.close();
    await redis.stop();
  }
}

console.log(`node ${process.version}, lease ${leaseSeconds} s, detector interval 1 s, evacuation concurrency 1, T = 2 s per evacuation`);
for (let i = 0; i < runs; i++) {
  const r = await crashResume(100 + i);
  console.log(`crash resume: kill → restarted process leads ${(r.leadMs / 1000).toFixed(1)} s; kill → next evacuate POST ${(r.gapMs / 1000).toFixed(1)} s; kill → all ${r.servers} ACTIVE ${(r.totalMs / 1000).toFixed(1)} s; ${r.posts} evacuate POSTs for ${r.servers} servers`);
  const t = await takeover(200 + i);
  console.log(`takeover: leader killed → standby took the lease ${(t / 1000).toFixed(1)} s (lease ${leaseSeconds} s + one 1 s round = ${leaseSeconds + 1} s)`);
}
