import { Command } from 'commander';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_CHECKS } from '../../../src/app/config-checks.js';
import { composeRecovery } from '../../../src/app/root.js';
import { registerEvacuateCommands } from '../../../src/cli/commands/evacuate.js';
import { loadConfig } from '../../../src/config/load.js';
import { detectorKeys } from '../../../src/detector/keys.js';
import { createOpenStack } from '../../../src/openstack/index.js';
import type { NovaApi } from '../../../src/openstack/types.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { runSim, type RunningSim } from '../../../src/sim/index.js';
import {
  allActiveOn, evacuationsPerServer, movableServers, simCalls, startCmphaRun, until, writeRunConfig, type CmphaRun,
} from '../../helpers/cmpha-process.js';
import { ProcessGroup } from '../../helpers/processes.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';

// `cmpha evacuate` beside `cmpha run` replicas: one leader acts at a time, whoever it is. A real redis-server,
// real `cmpha run` processes (built CLI) and the simulated cloud; the command itself runs in this process so
// that every mutating Nova call it would send is seen.

const VICTIM = 'compute1';
const SPARE = 'spare1';
const MUTATING: ReadonlySet<string> = new Set(['updateService', 'addHostToAggregate', 'evacuate', 'liveMigrate', 'reboot']);

const group = new ProcessGroup();
const sims: RunningSim[] = [];
let redisServer: RedisServer;
let redis: Redis;
let n = 0;

beforeAll(async () => {
  redisServer = await startRedis();
  redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
});
afterEach(async () => {
  await group.stopAll();
  await Promise.all(sims.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  redis?.disconnect();
  await redisServer?.stop();
});

async function world(evacuateSeconds: number): Promise<{ sim: RunningSim; cfg: { path: string; metricsPort: number }; prefix: string }> {
  const sim = await runSim({ hosts: 3, instancesPerHost: 3, spares: 1, reportIntervalSeconds: 1, serviceDownTimeSeconds: 6, evacuateSeconds, seed: 40 + n });
  sims.push(sim);
  const prefix = `cmpha-evac-leader-${process.pid}-${++n}`;
  const cfg = await writeRunConfig(sim, { prefix, redis: [`url = ${redisServer.url}`] });
  return { sim, cfg, prefix };
}

async function role(run: CmphaRun): Promise<string | undefined> {
  const r = await fetch(`http://127.0.0.1:${run.metricsPort}/readyz`).catch(() => null);
  if (!r) return undefined;
  return ((await r.json()) as { checks?: { role?: string } }).checks?.role;
}

interface Evacuation { code: number; out: string; err: string; novaChanges: string[]; done: Promise<void> }

/** `cmpha evacuate HOST --yes` in this process, recording every mutating Nova call it sends itself. */
function evacuate(configPath: string, host: string): Evacuation {
  const run: Evacuation = { code: -1, out: '', err: '', novaChanges: [], done: Promise.resolve() };
  const program = new Command('cmpha').exitOverride();
  registerEvacuateCommands(program, {
    loadConfig: () => loadConfig({ path: configPath, env: {}, checks: CONFIG_CHECKS }),
    createLogger: () => silentLogger,
    startWorker: (config, logger) => composeRecovery(config, { logger, openstack: (c, l) => {
      const os = createOpenStack(c.cloud, { logger: l });
      const nova = new Proxy(os.nova, {
        get(target, prop, receiver) {
          const value = Reflect.get(target, prop, receiver) as unknown;
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) => {
            if (MUTATING.has(String(prop))) run.novaChanges.push(String(prop));
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      }) as NovaApi;
      return { ...os, nova: nova as typeof os.nova };
    } }),
    stdout: (t) => { run.out += t; },
    stderr: (t) => { run.err += t; },
    setExitCode: (c) => { run.code = c; },
  });
  run.done = program.parseAsync(['node', 'cmpha', 'evacuate', host, '--yes', '--timeout', '3m']).then(() => undefined);
  return run;
}

describe('cmpha evacuate and the leader lease', () => {
  it('with a cmpha run leader: the command only opens and follows the incident; the leader fences and evacuates, once per server', async () => {
    const { sim, cfg, prefix } = await world(1);
    const leader = startCmphaRun(group, cfg);
    await until(async () => (await role(leader)) === 'leader', 60_000, 'cmpha run to lead');
    const movable = movableServers(sim, VICTIM);
    expect(movable.length).toBeGreaterThan(1);

    const ev = evacuate(cfg.path, VICTIM);
    await ev.done;
    expect(ev.err).toBe('');
    expect(ev.out).toMatch(/a cmpha controller leads \(.+\): it runs the recovery; following it/);
    const id = /incident (compute1-op-\d{8}T\d{6}Z) opened/.exec(ev.out)![1]!;
    expect(ev.out).toMatch(new RegExp(`incident ${id}: host compute1, RESOLVED`));
    expect(ev.code).toBe(0);
    // The command sent no change to Nova; the leader did the work, and logged it for this incident.
    expect(ev.novaChanges).toEqual([]);
    expect(leader.logs()).toContain(id);
    expect(await allActiveOn(sim, movable, SPARE)).toBe(true);
    const calls = await simCalls(sim);
    expect(calls.filter((c) => c.service === 'redfish' && c.method !== 'GET').length).toBeGreaterThanOrEqual(1);
    const per = evacuationsPerServer(calls);
    expect([...per.keys()].sort()).toEqual([...movable].sort());
    expect([...per.values()].every((v) => v === 1)).toBe(true);
    // The leader still leads: the command never took or released its lease.
    expect(await redis.get(detectorKeys(prefix).leader)).toMatch(new RegExp(`/${leader.pid}/`));
  }, 240_000);

  it('with no controller leading: the command takes the lease, a cmpha run started meanwhile stays standby, and the lease is released at the end', async () => {
    const { sim, cfg, prefix } = await world(12);
    const movable = movableServers(sim, VICTIM);
    const ev = evacuate(cfg.path, VICTIM);
    await until(async () => ev.out.includes('holds the leader lease') || ev.code !== -1, 60_000, 'the command to take the lease');
    expect(ev.out).toMatch(/no cmpha controller leads: this command holds the leader lease/);
    const leaseKey = detectorKeys(prefix).leader;
    expect(await redis.get(leaseKey)).toMatch(new RegExp(`/${process.pid}/`));

    const standby = startCmphaRun(group, cfg);
    await until(async () => (await role(standby)) !== undefined, 60_000, 'cmpha run to answer /readyz');
    expect(ev.code, 'the evacuation is still running').toBe(-1);
    expect(await role(standby)).toBe('standby');

    await ev.done;
    expect(ev.err).toBe('');
    expect(ev.out).toMatch(/RESOLVED/);
    expect(ev.code).toBe(0);
    // The command's own workers acted, through the lease it held.
    expect(ev.novaChanges).toContain('evacuate');
    const per = evacuationsPerServer(await simCalls(sim));
    expect([...per.keys()].sort()).toEqual([...movable].sort());
    expect([...per.values()].every((v) => v === 1)).toBe(true);
    // Released at once: the standby leads without waiting for the lease to lapse.
    expect((await redis.get(leaseKey)) ?? 'free').not.toMatch(new RegExp(`/${process.pid}/`));
    await until(async () => (await role(standby)) === 'leader', 30_000, 'the standby to lead after the release');
  }, 240_000);
});
