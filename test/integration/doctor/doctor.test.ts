import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_CHECKS } from '../../../src/app/config-checks.js';
import { loadConfig } from '../../../src/config/load.js';
import { disarm } from '../../../src/detector/ha-control.js';
import { detectorKeys } from '../../../src/detector/keys.js';
import { formatDoctorReport, runDoctor } from '../../../src/doctor/index.js';
import { CephClient } from '../../../src/fencing/ceph/ceph-client.js';
import type { DoctorReport } from '../../../src/doctor/index.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { runSim, type RunningSim, type SimOptions } from '../../../src/sim/index.js';
import { ProcessGroup } from '../../helpers/processes.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { createCliCompute } from '../../../src/cli/context.js';

// `cmpha doctor` against the simulated cloud (Nova, Keystone, Redfish BMCs, sim probe) and a real Redis.
// Microversion 2.87 so that Nova still reports hypervisor usage and spare capacity can be judged.

const bin = new URL('../../../bin/cmpha.js', import.meta.url).pathname;
const group = new ProcessGroup();
const sims: RunningSim[] = [];
let redisServer: RedisServer;
let redis: Redis;

beforeAll(async () => {
  redisServer = await startRedis();
  redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
});

afterAll(async () => {
  await group.stopAll();
  redis?.disconnect();
  await redisServer?.stop();
  for (const s of sims) await s.close();
});

let prefixes = 0;
/** A fresh world whose config points at this file's Redis, edited by `edit` (config text → config text). */
async function world(opts: SimOptions = {}, edit: (text: string) => string = (t) => t): Promise<{ sim: RunningSim; prefix: string }> {
  const sim = await runSim({ hosts: 3, instancesPerHost: 3, spares: 1, maxMicroversion: '2.87', ...opts });
  sims.push(sim);
  const prefix = `doctor-${process.pid}-${++prefixes}`;
  const text = readFileSync(sim.configPath, 'utf8').replace('[evacuation]\n', '[evacuation]\nshared_storage = true\n');
  writeFileSync(sim.configPath, `${edit(text)}\n[redis]\nurl = ${redisServer.url}\nprefix = ${prefix}\n`);
  return { sim, prefix };
}

async function doctor(sim: RunningSim): Promise<DoctorReport> {
  const config = await loadConfig({ path: sim.configPath, env: {}, checks: CONFIG_CHECKS });
  return runDoctor(config, { logger: silentLogger, compute: createCliCompute(config, silentLogger) });
}

async function post(sim: RunningSim, path: string, body?: unknown): Promise<void> {
  const res = await fetch(`${sim.controlUrl}${path}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  expect(res.ok, `${path}: HTTP ${res.status}`).toBe(true);
}

const host = (r: DoctorReport, name: string) => r.hosts.find((h) => h.host === name)!;
const check = (r: DoctorReport, name: string) => r.checks.find((c) => c.name === name);

/** Runs the built CLI as an operator does; collects its output and exit code. */
function cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = group.start(process.execPath, [bin, ...args], { env: { PATH: process.env.PATH ?? '', CMPHA_CONFIG: '' } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

describe('cmpha doctor', () => {
  it('healthy world: the built CLI exits 0, every host OK, "failover would work for 3 of 3 hosts", and nothing is changed', async () => {
    const { sim, prefix } = await world();
    await redis.set(detectorKeys(prefix).leader, 'ha1/123', 'PX', 60_000);
    await fetch(`${sim.controlUrl}/sim/calls`, { method: 'DELETE' });
    const r = await cli('doctor', '--config', sim.configPath);
    expect(r.stderr).not.toMatch(/"level":50/);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('failover would work for 3 of 3 hosts');
    for (const h of ['compute1', 'compute2', 'compute3']) expect(r.stdout).toMatch(new RegExp(`^${h}\\s+compute\\s+nova\\s+up/enabled\\s+redfish on\\s+198\\.18\\.0\\.\\d+ answers\\s+.*\\bOK\\b`, 'm'));
    expect(r.stdout).toMatch(/^\s+ok\s+leader\s+controller ha1\/123 holds the leader lease/m);
    // Placement figures, allocation ratio included: 32 vCPU × 4.
    expect(r.stdout).toMatch(/^\s+ok\s+spares:nova\s+spare1 \(free 128 vCPU/m);

    // Read-only: Keystone token requests are the only mutating calls; no Nova change, no Redfish Reset.
    const calls = (await (await fetch(`${sim.controlUrl}/sim/calls`)).json()) as Array<{ service: string; method: string; path: string }>;
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.filter((c) => !(c.service === 'keystone' && c.path.startsWith('/identity/v3/auth/tokens')))).toEqual([]);
    const state = (await (await fetch(`${sim.controlUrl}/sim/state?servers=0`)).json()) as { hosts: Array<{ name: string; power: string }> };
    expect(state.hosts.map((h) => h.power)).toEqual(['on', 'on', 'on', 'on']);
  });

  it('--json has the stable shape { ok, checks[{name,status,detail}], hosts[{host,zone,status,problems}] }', async () => {
    const { sim } = await world();
    const r = await cli('doctor', '--json', '--config', sim.configPath);
    const report = JSON.parse(r.stdout) as Record<string, unknown> & { checks: Array<Record<string, unknown>>; hosts: Array<Record<string, unknown>> };
    expect(r.code).toBe(0);
    expect(report.ok).toBe(true);
    for (const c of report.checks) {
      expect(Object.keys(c).sort()).toEqual(['detail', 'name', 'status']);
      expect(['ok', 'warn', 'fail']).toContain(c.status);
    }
    expect(report.checks.map((c) => c.name)).toEqual(expect.arrayContaining(['nova', 'fencing', 'mgmt-probe', 'spares:nova', 'storage', 'redis', 'leader', 'notifier:log']));
    expect(report.hosts.map((h) => [h.host, h.zone, h.status, h.problems])).toEqual([
      ['compute1', 'nova', 'ok', []], ['compute2', 'nova', 'ok', []], ['compute3', 'nova', 'ok', []], ['spare1', 'nova', 'ok', []],
    ]);
    // No leader runs here: a warning, not a failure.
    expect(report.checks.find((c) => c.name === 'leader')).toMatchObject({ status: 'warn' });
  });

  it('a Redis without the append-only file is a warning naming appendonly; with it, ok', async () => {
    const { sim } = await world();
    const off = await doctor(sim);
    expect(check(off, 'redis-persistence')).toMatchObject({ status: 'warn', detail: expect.stringMatching(/restart.*(loses|lost).*appendonly yes/) });
    await redis.call('CONFIG', 'SET', 'appendonly', 'yes');
    try {
      expect(check(await doctor(sim), 'redis-persistence')).toMatchObject({ status: 'ok' });
    } finally {
      await redis.call('CONFIG', 'SET', 'appendonly', 'no');
    }
  });

  it('a BMC that answers errors or not at all: that host FAILs, exit 1, no power action was taken', async () => {
    const { sim } = await world();
    await post(sim, '/sim/hosts/compute2/bmc', { mode: 'error' });
    await post(sim, '/sim/hosts/compute3/bmc', { mode: 'unreachable' });
    const before = ((await (await fetch(`${sim.controlUrl}/sim/calls`)).json()) as unknown[]).length;
    const r = await cli('doctor', '--json', '--config', sim.configPath);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as DoctorReport;
    expect(host(report, 'compute1').status).toBe('ok');
    expect(host(report, 'compute2')).toMatchObject({ status: 'fail', fencing: { driver: 'redfish', works: false } });
    expect(host(report, 'compute2').problems[0]!.detail).toMatch(/^fencing does not work \(BMC 127\.0\.0\.1:\d+\)/);
    expect(host(report, 'compute3')).toMatchObject({ status: 'fail', fencing: { reachable: false, works: false } });
    expect(check(report, 'fencing')).toMatchObject({ status: 'fail', detail: '2 of 3 compute host(s) cannot be fenced: compute2 (redfish), compute3 (redfish)' });
    expect(report.summary).toEqual({ protected: 1, total: 3 });
    const calls = ((await (await fetch(`${sim.controlUrl}/sim/calls`)).json()) as Array<{ service: string; path: string }>).slice(before);
    expect(calls.filter((c) => c.service !== 'keystone')).toEqual([]);
  });

  it('fping refused raw sockets (a container without --cap-add NET_RAW): the fping check FAILs and names the fix', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cmpha-doctor-netraw-'));
    try {
      // The kernel refuses to exec fping with its capability: nothing is ever sent.
      const wrapper = join(dir, 'fping');
      writeFileSync(wrapper, '#!/bin/sh\nexec setpriv --bounding-set=-net_raw fping "$@"\n');
      chmodSync(wrapper, 0o755);
      const { sim } = await world({}, (t) => t.replace(/probe = sim\nsim_url = .*\n/, `probe = fping\nfping_path = ${wrapper}\n`));
      const r = await doctor(sim);
      expect(r.ok).toBe(false);
      expect(check(r, 'fping')).toMatchObject({ status: 'fail', detail: expect.stringContaining('fping lacks CAP_NET_RAW') });
      expect(check(r, 'fping')!.detail).toContain('--cap-add NET_RAW');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a host without a [host:NAME] section FAILs as not fenceable', async () => {
    const { sim } = await world({}, (t) => t.replace(/\n\[host:compute2\]\n(?:[^[\n][^\n]*\n)*/, '\n'));
    const r = await doctor(sim);
    expect(r.ok).toBe(false);
    expect(host(r, 'compute2')).toMatchObject({ status: 'fail', fencing: { driver: 'unconfigured', works: false } });
    expect(host(r, 'compute2').problems[0]!.detail).toBe('not fenceable: no [host:compute2] section (BMC address and credentials), so it would never be evacuated');
    expect(host(r, 'compute1').status).toBe('ok');
    expect(r.summary).toEqual({ protected: 2, total: 3 });
  });

  it('a spare too small for a host\'s servers: the zone\'s spare check and that host FAIL', async () => {
    // Every host has 6 vCPU and no overcommit; compute1 carries 7 vCPU of servers (small, medium, large flavors), so spare1 cannot take them.
    const { sim } = await world({ hostVcpus: 6, cpuAllocationRatio: 1 });
    const r = await doctor(sim);
    expect(r.ok).toBe(false);
    expect(check(r, 'spares:nova')).toMatchObject({ status: 'fail' });
    expect(check(r, 'spares:nova')!.detail).toMatch(/^spare\(s\) too small for compute1.*: spare1 \(free 6 vCPU, /);
    expect(host(r, 'compute1').status).toBe('fail');
    expect(host(r, 'compute1').problems.map((p) => p.detail).join('\n')).toMatch(/server\(s\) \(7 vCPU, 14336 MB in all\) fit on no spare in zone nova/);
  });

  it('no spare up: FAIL for spares, and each host with servers to move', async () => {
    const { sim } = await world({ reportIntervalSeconds: 1, serviceDownTimeSeconds: 3 });
    await post(sim, '/sim/hosts/spare1/nova-compute/stop');
    await post(sim, '/sim/clock', { advanceSeconds: 10 });
    const r = await doctor(sim);
    expect(check(r, 'spares:nova')).toEqual({ name: 'spares:nova', status: 'fail', detail: '3 host(s), no usable spare: spare1 (not up)' });
    expect(host(r, 'spare1').problems).toEqual([{ status: 'warn', detail: 'spare is not up: it cannot take evacuated servers' }]);
    expect(host(r, 'compute1').problems[0]!.detail).toMatch(/^no usable spare in zone nova/);
    expect(r.summary.protected).toBe(0);
  });

  it('what is out of HA: each disarm (scope, who, why, since, until) from Redis, an overdue one FAILs; the config\'s ha = false opt-outs', async () => {
    const { sim, prefix } = await world({}, (t) => t.replace('[host:compute3]\n', '[host:compute3]\nha = false\n'));
    const clean = await doctor(sim);
    expect(clean.checks.filter((c) => c.name === 'ha')).toEqual([
      { name: 'ha', status: 'ok', detail: 'nothing is disarmed (cmpha ha status): every host without ha = false is under HA' },
      { name: 'ha', status: 'warn', detail: '1 compute host(s) opted out of HA in the config (ha = false), watched and never recovered: compute3' },
    ]);
    expect(host(clean, 'compute3').problems).toContainEqual({ status: 'warn', detail: 'opted out of HA ([host:compute3] ha = false): watched and reported, never fenced or evacuated' });

    const at = Date.now() - 60_000;
    const until = at + 3_600_000;
    await disarm(redis, prefix, { scope: { kind: 'zone', name: 'nova' }, reason: 'rack 4 power work', by: 'alice', until, now: at }, Number.POSITIVE_INFINITY);
    // Asked an hour ago with an until already past: overdue.
    await disarm(redis, prefix, { scope: { kind: 'host', name: 'compute1' }, reason: 'disk swap', by: 'bob', until: at - 1000, now: at - 3_600_000 }, Number.POSITIVE_INFINITY);
    const r = await doctor(sim);
    const ha = r.checks.filter((c) => c.name === 'ha');
    expect(ha).toContainEqual({
      name: 'ha', status: 'warn',
      detail: `DISARMED: zone nova disarmed by alice at ${new Date(at).toISOString()} until ${new Date(until).toISOString()}: rack 4 power work; in effect (cmpha ha arm --zone nova to end it)`,
    });
    expect(ha).toContainEqual({
      name: 'ha', status: 'fail',
      detail: expect.stringMatching(new RegExp(`^DISARMED: host compute1 disarmed by bob at ${new Date(at - 3_600_000).toISOString()} until ${new Date(at - 1000).toISOString()}: disk swap; in effect; OVERDUE: past its until .*\\(cmpha ha arm --host compute1 to end it\\)$`)),
    });
    expect(ha.map((c) => c.detail)).toContain('1 compute host(s) opted out of HA in the config (ha = false), watched and never recovered: compute3');
    expect(r.ok).toBe(false);
    const text = formatDoctorReport(r);
    expect(text).toMatch(/DISARMED: zone nova disarmed by alice/);
  });

  it('Redis down: the redis check FAILs saying what to do, failover works for none, the CLI exits 1', async () => {
    const { sim } = await world({}, (t) => t);
    const text = readFileSync(sim.configPath, 'utf8').replace(/url = redis:\/\/127\.0\.0\.1:\d+/, 'url = redis://:Redis-Pw-9@127.0.0.1:1');
    writeFileSync(sim.configPath, text);
    const r = await cli('doctor', '--json', '--config', sim.configPath);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).not.toContain('Redis-Pw-9');
    const report = JSON.parse(r.stdout) as DoctorReport;
    expect(check(report, 'redis')).toMatchObject({ status: 'fail' });
    expect(check(report, 'redis')!.detail).toMatch(/^cannot reach Redis at redis:\/\/127\.0\.0\.1:1: /);
    expect(check(report, 'redis')!.detail).toMatch(/nothing would be recovered\); start Redis at redis:\/\/127\.0\.0\.1:1, or set \[redis\] url to the Redis cmpha should use$/);
    expect(report.summary).toMatchObject({ protected: 0, blockedBy: 'Redis is unreachable' });
    expect(formatDoctorReport(report).trimEnd().split('\n').at(-1)).toBe(`failover would work for none of ${report.summary.total} hosts while Redis is unreachable — see FAIL above`);
  });

  it('image-backed servers without shared_storage: a storage warning, still exit 0', async () => {
    const { sim } = await world({}, (t) => t.replace('shared_storage = true\n', ''));
    const r = await doctor(sim);
    expect(r.ok).toBe(true);
    expect(check(r, 'storage')).toEqual({
      name: 'storage', status: 'warn',
      detail: `${r.hosts.reduce((a, h) => a + (h.servers?.imageBacked ?? 0), 0)} image-backed server(s) would be evacuated: evacuation rebuilds an image-backed server from its image unless the instance directory is on shared storage; set \`[evacuation] shared_storage = true\` if it is`,
    });
    expect(host(r, 'compute1').status).toBe('warn');
  });

  it('Nova unreachable: nova FAILs, every host FAILs, the report still lists the configured hosts', async () => {
    const { sim } = await world({}, (t) => t.replace(/auth_url = http:\/\/127\.0\.0\.1:\d+/, 'auth_url = http://127.0.0.1:1').replace('[cloud]\n', '[cloud]\napi_retries = 0\napi_timeout = 2s\n'));
    const r = await doctor(sim);
    expect(r.ok).toBe(false);
    expect(check(r, 'nova')!.status).toBe('fail');
    expect(r.hosts.map((h) => h.host)).toEqual(['compute1', 'compute2', 'compute3', 'spare1']);
    expect(r.summary).toEqual({ protected: 0, total: 4 });
  });

  it('fence levels redfish | ceph: each host lists both levels and whether each device answers; a dead BMC does not', async () => {
    const levels = (t: string) => t.replace(/\[host:(compute[12])\]\n/g, '[host:$1]\nfence_levels = redfish | ceph\n');
    const { sim } = await world({}, levels);
    writeFileSync(sim.configPath, `${readFileSync(sim.configPath, 'utf8')}\n[ceph]\nsim_url = ${sim.controlUrl}\n`);
    await post(sim, '/sim/hosts/compute2/bmc', { mode: 'unreachable' });
    const r = await doctor(sim);
    expect(host(r, 'compute1').fencing.levels).toEqual([
      [{ device: 'redfish', answers: true, detail: 'power on' }],
      [{ device: 'ceph', answers: true, detail: expect.stringMatching(/^osd dump answers \(epoch \d+\)$/) }],
    ]);
    expect(host(r, 'compute2').fencing.levels).toEqual([
      [{ device: 'redfish', answers: false, detail: expect.any(String) }],
      [{ device: 'ceph', answers: true, detail: expect.stringMatching(/^osd dump answers/) }],
    ]);
    // A host without fence_levels has its BMC alone.
    expect(host(r, 'compute3').fencing.levels).toEqual([[{ device: 'redfish', answers: true, detail: 'power on' }]]);
    const text = formatDoctorReport(r);
    expect(text).toMatch(/^ {2}compute1: redfish answers \(power on\) \| ceph answers \(osd dump answers \(epoch \d+\)\)$/m);
    expect(text).toMatch(/^ {2}compute2: redfish NOT ANSWERING \(.+\) \| ceph answers/m);
    // Read-only: nothing blocklisted, no BMC or Nova change.
    const dump = await new CephClient({ user: 'cmpha', keyringPath: '', python: 'python3', timeoutMs: 5000, simUrl: sim.controlUrl }).blocklistState();
    expect({ entries: dump.entries, ranges: dump.ranges }).toEqual({ entries: {}, ranges: {} });
    const calls = (await (await fetch(`${sim.controlUrl}/sim/calls`)).json()) as Array<{ service: string }>;
    expect(calls.filter((c) => c.service !== 'keystone')).toEqual([]);
  });
});
