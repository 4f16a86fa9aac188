import { appendFileSync, copyFileSync, rmSync } from 'node:fs';
import { Command } from 'commander';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerCheckCommands } from '../../../src/cli/commands/check.js';
import { setLogLevelOverride } from '../../../src/cli/context.js';
import { StormBrakeStore } from '../../../src/detector/storm-brake-store.js';
import { arm, disarm } from '../../../src/detector/ha-control.js';
import { layerConfig } from '../../helpers/layer-config.js';
import { runSim, type RunningSim } from '../../../src/sim/index.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';

// `cmpha check` and `cmpha resume` as an operator runs them, against the simulated cloud (sim probe).

let sim: RunningSim;
let redisServer: RedisServer;
let redis: Redis;
const prefix = `check-cli-${process.pid}`;

async function run(...args: string[]): Promise<{ out: string; code: number }> {
  const program = new Command('cmpha').exitOverride();
  registerCheckCommands(program);
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  });
  const before = process.exitCode;
  process.exitCode = undefined;
  try {
    await program.parseAsync(['node', 'cmpha', ...args]);
  } finally {
    spy.mockRestore();
  }
  const code = typeof process.exitCode === 'number' ? process.exitCode : 0;
  process.exitCode = before;
  return { out, code };
}

beforeAll(async () => {
  setLogLevelOverride('silent');
  sim = await runSim({ hosts: 4, instancesPerHost: 2, spares: 1, reportIntervalSeconds: 1, serviceDownTimeSeconds: 3 });
  redisServer = await startRedis();
  redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
  appendFileSync(sim.configPath, `\n[redis]\nurl = ${redisServer.url}\nprefix = ${prefix}\n`);
});

afterAll(async () => {
  setLogLevelOverride(undefined);
  redis?.disconnect();
  await redisServer?.stop();
  await sim?.close();
});

describe('cmpha check', () => {
  it('prints every host with its verdict, evidence and the action the controller would take, and opens nothing', async () => {
    await fetch(`${sim.controlUrl}/sim/hosts/compute2/power-off`, { method: 'POST' });
    await fetch(`${sim.controlUrl}/sim/hosts/compute3/nova-compute/stop`, { method: 'POST' });
    await fetch(`${sim.controlUrl}/sim/clock`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ advanceSeconds: 10 }) });
    const callsBefore = (await (await fetch(`${sim.controlUrl}/sim/calls?service=nova`)).json()) as Array<{ method: string }>;

    const { out, code } = await run('check', '--config', sim.configPath, '--json');
    expect(code).toBe(0);
    const report = JSON.parse(out) as { hosts: Array<{ host: string; verdict: string; action: string; evidence: { reasons: string[]; mgmt: { result: string } } }> };
    const byHost = Object.fromEntries(report.hosts.map((h) => [h.host, h]));
    expect(Object.keys(byHost).sort()).toEqual(['compute1', 'compute2', 'compute3', 'compute4', 'spare1']);
    expect(byHost.compute1).toMatchObject({ verdict: 'healthy', action: 'none' });
    expect(byHost.compute2).toMatchObject({ verdict: 'dead', action: 'would-open-incident', evidence: { mgmt: { result: 'silent' } } });
    expect(byHost.compute3).toMatchObject({ verdict: 'agent-down', action: 'alert' });
    expect(byHost.spare1).toMatchObject({ verdict: 'maintenance', action: 'none' });
    expect(byHost.compute2!.evidence.reasons.join(' ')).toContain('Nova reports nova-compute down');

    // Nothing was changed in Nova: the simulator records every changing call, and there are none.
    const calls = (await (await fetch(`${sim.controlUrl}/sim/calls?service=nova`)).json()) as Array<{ method: string }>;
    expect(calls.slice(callsBefore.length)).toEqual([]);
    expect((await fetch(`${sim.controlUrl}/sim/state?host=compute2&servers=0`).then((r) => r.json()) as { hosts: Array<{ service: { status: string; forced_down: boolean } }> })
      .hosts[0]!.service).toMatchObject({ status: 'enabled', forced_down: false });
  });

  it('prints a table by default', async () => {
    const { out } = await run('check', '--config', sim.configPath);
    expect(out).toMatch(/^HOST\s+ZONE\s+VERDICT\s+ACTION/m);
    expect(out).toMatch(/^compute2\s+\S+\s+dead\s+would-open-incident \(compute2-\d+\)/m);
    expect(out).toContain('controller isolated: no');
    expect(out).toContain('nothing was acted on');
  });
});

describe('cmpha check: what is out of HA', () => {
  it('lists each disarm (scope, who, why, since, until, state) from Redis and the hosts the config opts out (ha = false)', async () => {
    const cfg = `${sim.configPath}.out-of-ha.conf`;
    copyFileSync(sim.configPath, cfg);
    layerConfig(cfg, { 'host:compute4': { ha: 'false' } });
    const at = Date.now();
    const until = at + 3_600_000;
    await disarm(redis, prefix, { scope: { kind: 'aggregate', name: 'gpu' }, reason: 'GPU firmware', by: 'alice', until, now: at }, Number.POSITIVE_INFINITY);
    try {
      const table = await run('check', '--config', cfg);
      expect(table.out).toContain('DISARMED (cmpha ha status; detected and reported, never fenced or evacuated):\n'
        + `  - aggregate gpu disarmed by alice at ${new Date(at).toISOString()} until ${new Date(until).toISOString()}: GPU firmware; in effect\n`);
      expect(table.out).toMatch(/HA OFF \(config: ha = false\): compute4: watched and reported/);
      const json = JSON.parse((await run('check', '--config', cfg, '--json')).out) as Record<string, unknown>;
      expect(json.disarmed).toEqual([{
        scope: 'aggregate:gpu', reason: 'GPU firmware', by: 'alice', at: new Date(at).toISOString(), until: new Date(until).toISOString(),
        state: 'in-effect', pendingOn: [], overdue: null,
      }]);
      expect(json.haOff).toEqual(['compute4']);
    } finally {
      await arm(redis, prefix, { scope: { kind: 'aggregate', name: 'gpu' }, by: 'alice', reason: '', now: Date.now() });
      rmSync(cfg, { force: true });
    }
    // Nothing disarmed, nothing opted out: neither section is printed.
    const plain = await run('check', '--config', sim.configPath, '--json');
    expect(JSON.parse(plain.out)).toMatchObject({ disarmed: [], haOff: [] });
    expect((await run('check', '--config', sim.configPath)).out).not.toMatch(/DISARMED|HA OFF/);
  });
});

describe('cmpha resume', () => {
  it('says so when there is no brake to resume', async () => {
    const { out, code } = await run('resume', '--config', sim.configPath);
    expect(code).toBe(0);
    expect(out).toContain('the storm brake is not on');
  });

  it('records the request for the active controller when the brake is on', async () => {
    const store = new StormBrakeStore(redis, prefix);
    await store.save({ active: true, since: Date.UTC(2030, 0, 1), reason: '3 hosts look dead or suspect (limit max_dead_hosts = 2)', alerted: true, resumedHosts: null });
    const { out, code } = await run('resume', '--config', sim.configPath);
    expect(code).toBe(0);
    expect(out).toContain('storm brake is on since 2030-01-01T00:00:00.000Z: 3 hosts look dead');
    expect(await store.resumeRequested()).toBe(true);
  });
});

describe('cmpha check: fencing', () => {
  it('names the hosts that have no fencing configured and would never be evacuated', async () => {
    const { readFileSync, writeFileSync, mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const dir = mkdtempSync(path.join(tmpdir(), 'cmpha-check-'));
    try {
      // Drop compute4's [host:...] section: Nova still lists it, but cmpha has no BMC for it.
      const text = readFileSync(sim.configPath, 'utf8').replace(/\[host:compute4\][^[]*/, '');
      const conf = path.join(dir, 'cmpha.conf');
      writeFileSync(conf, text);
      const { out } = await run('check', '--config', conf);
      expect(out).toMatch(/^compute4\s.*\sNONE\s/m);
      expect(out).toMatch(/^compute1\s.*\sredfish\s/m);
      expect(out).toMatch(/NOT FENCEABLE \(no \[host:NAME\] driver\): compute4: these hosts would never be evacuated/);
      const json = JSON.parse((await run('check', '--config', conf, '--json')).out) as { hosts: { host: string; fencing: string }[] };
      expect(json.hosts.find((h) => h.host === 'compute4')?.fencing).toBe('none');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
