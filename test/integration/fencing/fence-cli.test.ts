import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CephClient } from '../../../src/fencing/ceph/ceph-client.js';
import { runSim, type RunningSim } from '../../../src/sim/index.js';
import { IpmiSimLab, type SimulatedBmc } from '../../helpers/ipmi-sim.js';
import { freeUdpPort } from '../../helpers/ports.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const ENTRY = `import(${JSON.stringify(path.join(ROOT, 'src/cli/main.ts'))}).then((m) => m.main(['node', 'cmpha', ...process.argv.slice(1)])).then((c) => process.exit(c))`;

/** Runs the real CLI in a child process, as an operator would, and returns its exit code and output. */
function cmpha(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', '-e', ENTRY, ...args], { cwd: ROOT, timeout: 60_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir() } },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }));
  });
}

describe('cmpha fence (CLI) against ipmi_sim BMCs', () => {
  const lab = new IpmiSimLab();
  let dir: string;
  let conf: string;
  let on: SimulatedBmc;
  let other: SimulatedBmc;
  let deadPort: number;

  beforeAll(async () => {
    [on, other] = await Promise.all([lab.start({ power: 'on' }), lab.start({ power: 'on', password: 'right-pass-1' })]);
    deadPort = await freeUdpPort();
    dir = mkdtempSync(path.join(tmpdir(), 'cmpha-fence-cli-'));
    conf = path.join(dir, 'cmpha.conf');
    const ipmi = (name: string, port: number, password: string) => [
      `[host:${name}]`, 'driver = ipmi', 'address = 127.0.0.1', `port = ${port}`, 'username = admin', `password = ${password}`,
      'ipmi_cipher_suite = 3', '',
    ].join('\n');
    writeFileSync(conf, [
      '[cloud]', 'auth_url = http://127.0.0.1:9/identity/v3', 'username = admin', 'password = cloud-secret', 'project_name = admin',
      'user_domain_name = Default', 'project_domain_name = Default', '',
      '[fencing]', 'timeout = 5s', 'poll_interval = 200ms', 'attempts = 1', '',
      '[logging]', 'level = error', '',
      ipmi('compute-1', on.port, on.password),
      ipmi('compute-2', other.port, 'wrong-pass-1'),
      '[host:compute-3]', 'driver = none', '',
      ipmi('compute-4', deadPort, 'whatever-1'),
    ].join('\n'), { mode: 0o600 });
  });
  afterAll(async () => {
    await lab.stopAll();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('status HOST prints the power state read from the BMC and exits 0', async () => {
    const r = await cmpha('fence', 'status', 'compute-1', '--config', conf);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`compute-1\\s+ipmi\\s+127\\.0\\.0\\.1:${on.port}\\s+yes\\s+on\\s+ipmi answers\\s+ok`));
    expect(on.power()).toBe('on');
  });

  it('status --all shows every host, marks the unfenceable one, names each failure and exits 1', async () => {
    const r = await cmpha('fence', 'status', '--all', '--config', conf);
    expect(r.code).toBe(1);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^HOST\s+DRIVER\s+BMC\s+REACHABLE\s+POWER\s+LEVELS\s+NOTE$/);
    expect(lines.find((l) => l.startsWith('compute-1 '))).toMatch(/yes\s+on\s+ipmi answers\s+ok$/);
    expect(lines.find((l) => l.startsWith('compute-2 '))).toMatch(/yes\s+-\s+ipmi NOT ANSWERING\s+FAILED bmc_auth_failed$/);
    expect(lines.find((l) => l.startsWith('compute-3 '))).toMatch(/none\s+-\s+-\s+-\s+no fence level\s+NOT FENCEABLE — will never be evacuated$/);
    expect(lines.find((l) => l.startsWith('compute-4 '))).toMatch(new RegExp(`127\\.0\\.0\\.1:${deadPort}\\s+no\\s+-\\s+ipmi NOT ANSWERING\\s+FAILED bmc_unreachable$`));
    expect(r.stdout).toMatch(/^compute-2: .*rejected the password/m);
    expect(r.stdout + r.stderr).not.toContain('wrong-pass-1');
  });

  it('status --all --json gives the same facts to scripts', async () => {
    const r = await cmpha('fence', 'status', '--all', '--json', '--config', conf);
    expect(r.code).toBe(1);
    const rows = JSON.parse(r.stdout) as { host: string; works: boolean; code?: string; reachable?: boolean; power?: string }[];
    expect(rows.map((x) => [x.host, x.works, x.code ?? null])).toEqual([
      ['compute-1', true, null], ['compute-2', false, 'bmc_auth_failed'], ['compute-3', false, null], ['compute-4', false, 'bmc_unreachable'],
    ]);
  });

  it('status of an unknown host names the configured ones and exits 2', async () => {
    const r = await cmpha('fence', 'status', 'compute-9', '--config', conf);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no [host:compute-9] section in the config (configured: compute-1, compute-2, compute-3, compute-4)');
  });

  it('off refuses without --yes and leaves the host on', async () => {
    const r = await cmpha('fence', 'off', 'compute-1', '--config', conf);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('without --yes');
    expect(on.power()).toBe('on');
    expect(on.powerOffRequests()).toBe(0);
  });

  it('off --yes powers the host off and prints the state read back', async () => {
    const r = await cmpha('fence', 'off', 'compute-1', '--yes', '--config', conf);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('compute-1: power is off (read back from the BMC)');
    expect(r.stdout).toMatch(/power-off\s+ipmi:\/\/127\.0\.0\.1:\d+: power off requested/);
    expect(on.power()).toBe('off');
  });

  it('off --yes exits 1 when the power is not confirmed off', async () => {
    const r = await cmpha('fence', 'off', 'compute-2', '--yes', '--config', conf);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('compute-2: NOT confirmed off (bmc_auth_failed)');
    expect(other.power()).toBe('on');
  });

  it('off --yes of a host without fencing explains why and exits 1', async () => {
    const r = await cmpha('fence', 'off', 'compute-3', '--yes', '--config', conf);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('compute-3 has no fencing (driver = none)');
  });
});

describe('cmpha fence status: fence levels against the simulator (Redfish BMCs, simulated Ceph)', () => {
  let sim: RunningSim;
  beforeAll(async () => {
    sim = await runSim({ hosts: 2, instancesPerHost: 1, spares: 1 });
    const text = readFileSync(sim.configPath, 'utf8').replace(/\[host:(compute[12])\]\n/g, '[host:$1]\nfence_levels = redfish | ceph\n');
    writeFileSync(sim.configPath, `${text}\n[ceph]\nsim_url = ${sim.controlUrl}\n[logging]\nlevel = error\n`);
    const res = await fetch(`${sim.controlUrl}/sim/hosts/compute2/bmc`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mode: 'unreachable' }) });
    expect(res.ok).toBe(true);
  });
  afterAll(async () => { await sim?.close(); });

  it('shows both levels of each host and each device\'s answer; the dead BMC is not answering; nothing is changed', async () => {
    const table = await cmpha('fence', 'status', '--all', '--config', sim.configPath);
    expect(table.code).toBe(1);
    expect(table.stdout).toMatch(/^compute1\s+redfish\s+\S+\s+yes\s+on\s+redfish answers \| ceph answers\s+ok$/m);
    expect(table.stdout).toMatch(/^compute2\s+redfish\s+\S+\s+no\s+-\s+redfish NOT ANSWERING \| ceph answers\s+FAILED/m);
    expect(table.stdout).toMatch(/^compute2 levels: redfish NOT ANSWERING \(.+\) \| ceph answers \(osd dump answers \(epoch \d+\)\)$/m);

    const json = await cmpha('fence', 'status', '--all', '-f', 'json', '--config', sim.configPath);
    const rows = JSON.parse(json.stdout) as Array<{ host: string; levels: Array<Array<{ device: string; answers: boolean }>> }>;
    const levelsOf = (h: string) => rows.find((r) => r.host === h)!.levels.map((l) => l.map((d) => [d.device, d.answers]));
    expect(levelsOf('compute1')).toEqual([[['redfish', true]], [['ceph', true]]]);
    expect(levelsOf('compute2')).toEqual([[['redfish', false]], [['ceph', true]]]);

    const one = await cmpha('fence', 'status', 'compute1', '-c', 'host', '-c', 'levels', '-f', 'value', '--config', sim.configPath);
    expect(one.stdout.trim()).toBe('compute1 redfish answers | ceph answers');

    const dump = await new CephClient({ user: 'cmpha', keyringPath: '', python: 'python3', timeoutMs: 5000, simUrl: sim.controlUrl }).blocklistState();
    expect({ entries: dump.entries, ranges: dump.ranges }).toEqual({ entries: {}, ranges: {} });
    const calls = (await (await fetch(`${sim.controlUrl}/sim/calls`)).json()) as Array<{ service: string }>;
    expect(calls.filter((c) => c.service !== 'keystone')).toEqual([]);
  }, 120_000);
});
