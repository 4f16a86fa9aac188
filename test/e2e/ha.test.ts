import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { IncidentStore } from '../../src/incidents/incident-store.js';
import { runSim, type RunningSim } from '../../src/sim/index.js';
import {
  allActiveOn, evacuationsPerServer, isEvacuatePost, movableServers, simCalls, startCmphaRun, until, writeRunConfig, type CmphaRun,
} from '../helpers/cmpha-process.js';
import { ProcessGroup } from '../helpers/processes.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { startSentinelSet, type SentinelSet } from '../helpers/redis-sentinel.js';

// cmpha itself highly available, with real redis-server / redis-sentinel processes and real `cmpha run`
// processes against the simulated cloud. Timings are generous: the machine is small and shared.

const VICTIM = 'compute1';
const SPARE = 'spare1';
const simOptions = (seed: number, evacuateSeconds: number) => ({
  hosts: 3, instancesPerHost: 3, spares: 1, reportIntervalSeconds: 1, serviceDownTimeSeconds: 6, evacuateSeconds, seed,
});

const group = new ProcessGroup();
const sims: RunningSim[] = [];
let n = 0;
const prefix = () => `cmpha-ha-${process.pid}-${++n}`;

afterEach(async () => {
  await group.stopAll();
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

async function newSim(seed: number, evacuateSeconds = 1): Promise<RunningSim> {
  const sim = await runSim(simOptions(seed, evacuateSeconds));
  sims.push(sim);
  return sim;
}

async function powerOff(sim: RunningSim, host: string): Promise<void> {
  await fetch(`${sim.controlUrl}/sim/hosts/${host}/power-off`, { method: 'POST' });
}

async function role(run: CmphaRun): Promise<string | undefined> {
  const r = await fetch(`http://127.0.0.1:${run.metricsPort}/readyz`).catch(() => null);
  if (!r) return undefined;
  return ((await r.json()) as { checks?: { role?: string } }).checks?.role;
}

describe('Redis Sentinel', () => {
  let sentinels: SentinelSet;
  beforeAll(async () => { sentinels = await startSentinelSet(); }, 60_000);
  afterAll(async () => { await sentinels?.stop(); });

  it('survives the Redis master killed mid-incident: a replica is promoted, cmpha reconnects, one evacuate per server', async () => {
    const sim = await newSim(21, 3);
    const cfg = await writeRunConfig(sim, { prefix: prefix(), redis: [`sentinels = ${sentinels.sentinelsSetting}`, `master_name = ${sentinels.masterName}`] });
    const run = startCmphaRun(group, cfg);
    await until(async () => (await role(run)) === 'leader', 30_000, 'cmpha to lead');
    const movable = movableServers(sim, VICTIM);
    expect(movable.length).toBeGreaterThan(1);
    await powerOff(sim, VICTIM);
    await until(async () => (await simCalls(sim)).some(isEvacuatePost), 60_000, 'the first evacuate POST');

    const oldMaster = await sentinels.killMaster();
    const newMaster = await sentinels.waitForFailover(oldMaster);
    expect(newMaster).not.toBe(oldMaster);

    await until(() => allActiveOn(sim, movable, SPARE), 90_000, 'every server ACTIVE on the spare');
    const per = evacuationsPerServer(await simCalls(sim));
    expect([...per.keys()].sort()).toEqual([...movable].sort());
    expect([...per.values()].every((v) => v === 1)).toBe(true);
    await run.waitForLog(/"msg":"Redis reachable again"/, 30_000);
    await until(async () => /cmpha_incidents_closed_total\{outcome="resolved"\} 1/.test(await (await fetch(`http://127.0.0.1:${run.metricsPort}/metrics`)).text()), 60_000, 'the incident to close resolved');
    // One warning for the outage, not one line per failed command.
    expect((run.logs().match(/"msg":"Redis unreachable/g) ?? []).length).toBeLessThanOrEqual(2);
    expect(run.logs()).not.toMatch(/\n\s+at .*\(.*\.js:\d+:\d+\)/);
  }, 240_000);
});

describe('leadership', () => {
  let redis: RedisServer;
  beforeAll(async () => { redis = await startRedis({ persist: true }); });
  afterAll(async () => { await redis?.stop(); });

  it('a leader paused past its lease is deposed: the standby finishes; the old leader, resumed, acts on nothing and says so', async () => {
    const sim = await newSim(22, 2);
    const p = prefix();
    const a = startCmphaRun(group, await writeRunConfig(sim, { prefix: p, redis: [`url = ${redis.url}`], leaseSeconds: 3 }));
    await until(async () => (await role(a)) === 'leader', 30_000, 'A to lead');
    const b = startCmphaRun(group, await writeRunConfig(sim, { prefix: p, redis: [`url = ${redis.url}`], leaseSeconds: 3 }));
    await until(async () => (await role(b)) === 'standby', 30_000, 'B to stand by');
    const movable = movableServers(sim, VICTIM);
    await powerOff(sim, VICTIM);
    await until(async () => (await simCalls(sim)).some(isEvacuatePost), 60_000, 'the first evacuate POST');

    process.kill(a.pid, 'SIGSTOP');
    try {
      await b.waitForLog(/took the leader lease/, 30_000);
      await until(() => allActiveOn(sim, movable, SPARE), 150_000, 'B to finish the recovery');
      await until(async () => /cmpha_incidents_closed_total\{outcome="resolved"\} 1/.test(await (await fetch(`http://127.0.0.1:${b.metricsPort}/metrics`)).text()), 150_000, 'B to close the incident');
    } catch (e) {
      console.log('B LOGS', b.logs().split('\n').filter((l) => !/verdict changed|round/.test(l)).slice(-60).join('\n'));
      throw e;
    } finally {
      process.kill(a.pid, 'SIGCONT');
    }
    const before = (await simCalls(sim)).length;
    await a.waitForLog(/deposed/, 30_000);
    // A few of A's rounds and job timers after waking: it must not have sent a single mutating call.
    await new Promise((r) => setTimeout(r, 5000));
    const after = await simCalls(sim);
    expect(after.slice(before)).toEqual([]);
    expect([...evacuationsPerServer(after).values()].every((v) => v === 1)).toBe(true);
    expect(await role(a)).toBe('standby');
    expect(await role(b)).toBe('leader');
    // Nor a single record: after its close the incident took only its closing notice's delivery lines (B's),
    // none of A's "runs ACTIVE on spare1" from the evacuations it had been waiting on when frozen.
    const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    try {
      const store = new IncidentStore(client, p);
      const [closed] = await store.list();
      const inc = (await store.get(closed!.id))!;
      expect(inc.status).toBe('resolved');
      expect(inc.timeline.filter((t) => t.at > inc.closedAt! && t.step !== 'notify')).toEqual([]);
      expect(inc.timeline.filter((t) => t.step === 'close')).toHaveLength(1);
    } finally {
      client.disconnect();
    }
  }, 400_000);

  it('after a SIGKILL mid-evacuation and a restart the recovery completes with one evacuate per server', async () => {
    const sim = await newSim(23, 3);
    // One evacuation at a time, so the kill leaves servers not yet requested.
    const cfg = await writeRunConfig(sim, { prefix: prefix(), redis: [`url = ${redis.url}`], evacuation: ['concurrency = 1'] });
    const first = startCmphaRun(group, cfg);
    await until(async () => (await role(first)) === 'leader', 30_000, 'cmpha to lead');
    const movable = movableServers(sim, VICTIM);
    await powerOff(sim, VICTIM);
    await until(async () => (await simCalls(sim)).some(isEvacuatePost), 60_000, 'the first evacuate POST');
    process.kill(first.pid, 'SIGKILL');
    await first.exited();
    const postsAtKill = (await simCalls(sim)).filter(isEvacuatePost).length;
    expect(postsAtKill).toBeLessThan(movable.length);
    const second = startCmphaRun(group, cfg);
    await second.waitForLog(/took the leader lease/, 60_000);
    await until(() => allActiveOn(sim, movable, SPARE), 150_000, 'every server ACTIVE on the spare');
    const per = evacuationsPerServer(await simCalls(sim));
    expect([...per.keys()].sort()).toEqual([...movable].sort());
    expect([...per.values()].every((v) => v === 1)).toBe(true);
  }, 240_000);

  it('a standby leads within lease + one round after the leader is killed', async () => {
    const sim = await newSim(24);
    const p = prefix();
    const leaseSeconds = 4;
    const a = startCmphaRun(group, await writeRunConfig(sim, { prefix: p, redis: [`url = ${redis.url}`], leaseSeconds }));
    await until(async () => (await role(a)) === 'leader', 30_000, 'A to lead');
    const b = startCmphaRun(group, await writeRunConfig(sim, { prefix: p, redis: [`url = ${redis.url}`], leaseSeconds }));
    await until(async () => (await role(b)) === 'standby', 30_000, 'B to stand by');
    // Kill right after both answered as leader and standby; only a lease line written after the kill counts.
    await until(async () => (await role(a)) === 'leader' && (await role(b)) === 'standby', 30_000, 'A leading and B standing by');
    const mark = b.logs().length;
    const killedAt = Date.now();
    process.kill(a.pid, 'SIGKILL');
    let tookAt = 0;
    await until(async () => {
      if (/took the leader lease/.test(b.logs().slice(mark))) tookAt = Date.now();
      return tookAt > 0;
    }, 60_000, 'B to take the lease');
    const takeoverMs = tookAt - killedAt;
    // lease (4 s) + one round (1 s interval); the slack is for a loaded machine, the figure goes to the log.
    console.log(`standby took over ${takeoverMs} ms after the leader was killed (lease ${leaseSeconds} s, interval 1 s)`);
    // (Faster when B's first try at the lease comes after the kill: it sees A's pid gone on this host.)
    expect(takeoverMs).toBeLessThan((leaseSeconds + 1) * 1000 + 10_000);
    // /readyz reports the role of the last finished round: the one that took the lease may still be running.
    await until(async () => (await role(b)) === 'leader', 10_000, 'B to report itself leader');
  }, 120_000);
});

describe('Redis ACL user', () => {
  it('recovers a host as an ACL user limited to its key prefix (the line docs/operations.md gives)', async () => {
    const redis = await startRedis();
    const { Redis } = await import('ioredis');
    const admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    try {
      const docs = (await import('node:fs')).readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
      const line = /^ACL SETUSER cmpha .*$/m.exec(docs)![0].replace('LONG-RANDOM-PASSWORD', 'acl-test-pw');
      expect(await admin.call(...(line.split(' ') as [string, ...string[]]))).toBe('OK');
      await admin.call('ACL', 'SETUSER', 'default', 'off');
      const sim = await newSim(27);
      const run = startCmphaRun(group, await writeRunConfig(sim, { prefix: 'cmpha', redis: [`url = ${redis.url}`, 'username = cmpha', 'password = acl-test-pw'] }));
      await until(async () => (await role(run)) === 'leader', 30_000, 'cmpha to lead');
      const movable = movableServers(sim, VICTIM);
      await powerOff(sim, VICTIM);
      await until(() => allActiveOn(sim, movable, SPARE), 90_000, 'every server ACTIVE on the spare');
      await until(async () => /cmpha_incidents_closed_total\{outcome="resolved"\} 1/.test(await (await fetch(`http://127.0.0.1:${run.metricsPort}/metrics`)).text()), 60_000, 'the incident to close resolved');
      expect(run.logs()).not.toMatch(/NOPERM|acl-test-pw/);
    } finally {
      admin.disconnect();
      await redis.stop();
    }
  }, 180_000);
});

describe('exits', () => {
  it('exits non-zero with one line when the metrics port is taken', async () => {
    const redis = await startRedis();
    try {
      const sim = await newSim(25);
      const net = await import('node:net');
      const blocker = net.createServer();
      await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
      const port = (blocker.address() as { port: number }).port;
      try {
        const run = startCmphaRun(group, await writeRunConfig(sim, { prefix: prefix(), redis: [`url = ${redis.url}`], metricsPort: port }));
        const { code } = await run.exited();
        expect(code).toBe(1);
        const errLines = run.logs().split('\n').filter((l) => l.startsWith('cmpha: '));
        expect(errLines).toEqual([`cmpha: cannot serve metrics on 127.0.0.1:${port} ([metrics] listen): EADDRINUSE`]);
      } finally {
        blocker.close();
      }
    } finally {
      await redis.stop();
    }
  }, 60_000);

  it('exits 2 with one line when its config file cannot be read', async () => {
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(process.execPath, [new URL('../../bin/cmpha.js', import.meta.url).pathname, 'run', '--config', '/nonexistent/cmpha.conf'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual(['/nonexistent/cmpha.conf: cannot read the config file: ENOENT']);
  }, 60_000);

  it('with Redis gone: logs the outage once (plus reminders), no stack traces, and still stops within the stated bound on SIGTERM', async () => {
    const redis = await startRedis();
    const sim = await newSim(26);
    const run = startCmphaRun(group, await writeRunConfig(sim, { prefix: prefix(), redis: [`url = ${redis.url}`] }));
    await until(async () => (await role(run)) === 'leader', 30_000, 'cmpha to lead');
    await redis.stop();
    await run.waitForLog(/"msg":"Redis unreachable/, 20_000);
    // 15 s of outage: hundreds of failed reconnects and commands.
    await new Promise((r) => setTimeout(r, 15_000));
    const logs = run.logs();
    expect((logs.match(/"msg":"Redis unreachable/g) ?? []).length).toBe(1);
    expect(logs).not.toMatch(/Unhandled error event/);
    expect(logs).not.toMatch(/\n\s+at .*\(.*\.js:\d+:\d+\)/);
    const lines = logs.split('\n').filter((l) => l.trim() !== '').length;
    expect(lines).toBeLessThan(80);
    const t0 = Date.now();
    process.kill(run.pid, 'SIGTERM');
    const { at } = await run.exited();
    const stopMs = at - t0;
    console.log(`stopped ${stopMs} ms after SIGTERM with Redis gone`);
    expect(stopMs).toBeLessThan(3_000 + 5_000);
  }, 120_000);
});
