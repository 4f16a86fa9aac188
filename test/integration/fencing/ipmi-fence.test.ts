import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Secret } from '../../../src/config/secret.js';
import type { IpmiOptions } from '../../../src/config/types.js';
import { fenceHost, type FenceHostOptions } from '../../../src/fencing/fence-host.js';
import { IpmiDriver } from '../../../src/fencing/ipmi-driver.js';
import { runCommand, type CommandRunner } from '../../../src/shared/run-command.js';
import { IpmiSimLab, type SimulatedBmc } from '../../helpers/ipmi-sim.js';
import { freeUdpPort } from '../../helpers/ports.js';

const lab = new IpmiSimLab();
afterEach(() => lab.stopAll());

// ipmi_sim speaks cipher suite 3 only; -N 1 -R 1 is the production default.
const IPMI: IpmiOptions = { interface: 'lanplus', cipherSuite: 3, timeoutS: 1, retries: 1 };
const STEP: FenceHostOptions = { timeoutMs: 20_000, pollIntervalMs: 200, attempts: 3 };

function countingRunner(): { runner: CommandRunner; calls: string[][] } {
  const calls: string[][] = [];
  return { calls, runner: (file, args, opts) => { calls.push([file, ...args]); return runCommand(file, args, opts); } };
}

function driverFor(bmc: { port: number; username: string; password: string }, over: { password?: string; ipmi?: Partial<IpmiOptions>; runner?: CommandRunner } = {}) {
  return new IpmiDriver({
    name: 'compute-1', address: '127.0.0.1', port: bmc.port, username: bmc.username,
    password: new Secret(over.password ?? bmc.password), ipmi: { ...IPMI, ...over.ipmi }, ipmitoolPath: 'ipmitool',
    ...(over.runner ? { runner: over.runner } : {}),
  });
}

describe('IPMI fencing against a real ipmi_sim BMC', () => {
  it('powers off a host that is on and confirms it reads back off', async () => {
    const bmc = await lab.start({ power: 'on' });
    const result = await fenceHost(driverFor(bmc), STEP);
    expect(result).toMatchObject({ ok: true, state: 'off', alreadyOff: false, unfenced: false });
    expect(bmc.power()).toBe('off');
    expect(bmc.powerOffRequests()).toBe(1);
    const kinds = result.events.map((e) => (e.kind === 'status' ? `status:${e.state}` : e.kind));
    expect(kinds).toEqual(['status:on', 'power-off', 'status:off']);
  });

  it('does nothing to a host that is already off', async () => {
    const bmc = await lab.start({ power: 'off' });
    const result = await fenceHost(driverFor(bmc), STEP);
    expect(result).toMatchObject({ ok: true, alreadyOff: true });
    expect(bmc.powerOffRequests()).toBe(0);
    expect(result.events.map((e) => e.kind)).toEqual(['status']);
  });

  it('is harmless when run twice: the second run reads off and sends nothing', async () => {
    const bmc = await lab.start({ power: 'on' });
    const first = await fenceHost(driverFor(bmc), STEP);
    const second = await fenceHost(driverFor(bmc), STEP);
    expect(first).toMatchObject({ ok: true, alreadyOff: false });
    expect(second).toMatchObject({ ok: true, alreadyOff: true });
    expect(bmc.powerOffRequests()).toBe(1);
  });

  it('fails with bmc_auth_failed on a wrong password, without retrying and without leaking the password', async () => {
    const bmc = await lab.start({ power: 'on' });
    const { runner, calls } = countingRunner();
    const result = await fenceHost(driverFor(bmc, { password: 'not-the-password', runner }), STEP);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.code).toBe('bmc_auth_failed');
    expect(result.reason).toContain('rejected the password');
    expect(calls).toHaveLength(1);
    expect(bmc.power()).toBe('on');
    expect(JSON.stringify(result)).not.toContain('not-the-password');
  });

  it('fails with bmc_auth_failed for an unknown user', async () => {
    const bmc = await lab.start({ power: 'on' });
    const driver = new IpmiDriver({ name: 'compute-1', address: '127.0.0.1', port: bmc.port, username: 'nobody', password: new Secret(bmc.password), ipmi: IPMI });
    const result = await fenceHost(driver, STEP);
    expect(result).toMatchObject({ ok: false, code: 'bmc_auth_failed' });
  });

  it('fails with bmc_unreachable when nothing answers, after the configured attempts', async () => {
    const port = await freeUdpPort();
    const { runner, calls } = countingRunner();
    const result = await fenceHost(driverFor({ port, username: 'admin', password: 'whatever-pass' }, { runner }), { ...STEP, attempts: 2 });
    expect(result).toMatchObject({ ok: false, code: 'bmc_unreachable', lastState: 'unknown' });
    expect(calls).toHaveLength(2);
    expect(result.events.filter((e) => e.kind === 'error').map((e) => e.attempt)).toEqual([1, 2]);
  });

  it('fails with power_state_unknown when the BMC answers garbage, even after a power-off was accepted', async () => {
    const bmc = await lab.start({ power: 'on', mode: 'garbage' });
    const result = await fenceHost(driverFor(bmc), { ...STEP, timeoutMs: 2000 });
    expect(result).toMatchObject({ ok: false, code: 'power_state_unknown', lastState: 'unknown' });
    if (result.ok) return;
    expect(result.reason).toContain('Unspecified error');
    // Unknown is never taken as off, though the power-off was sent.
    expect(bmc.powerOffRequests()).toBeGreaterThanOrEqual(1);
  });

  it('fails with fence_timeout when the power-off is accepted but the power stays on', async () => {
    const bmc = await lab.start({ power: 'on', mode: 'stuck-on' });
    const result = await fenceHost(driverFor(bmc), { ...STEP, timeoutMs: 2000 });
    expect(result).toMatchObject({ ok: false, code: 'fence_timeout', lastState: 'on' });
    expect(bmc.power()).toBe('on');
    expect(result.events.filter((e) => e.kind === 'status').length).toBeGreaterThan(1);
  });

  it('names the cipher suite when the BMC does not support it, without retrying', async () => {
    const bmc = await lab.start({ power: 'on' });
    const { runner, calls } = countingRunner();
    const result = await fenceHost(driverFor(bmc, { ipmi: { cipherSuite: 17 }, runner }), STEP);
    expect(result).toMatchObject({ ok: false, code: 'bmc_error' });
    if (result.ok) return;
    expect(result.reason).toContain('cipher suite');
    expect(calls).toHaveLength(1);
  });

  it('works over IPMI v1.5 (-I lan) and refuses a wrong password there too', async () => {
    const bmc = await lab.start({ power: 'on' });
    expect(await driverFor(bmc, { ipmi: { interface: 'lan' } }).powerStatus(AbortSignal.timeout(10_000))).toBe('on');
    const bad = await fenceHost(driverFor(bmc, { ipmi: { interface: 'lan' }, password: 'wrong-password' }), STEP);
    expect(bad).toMatchObject({ ok: false, code: 'bmc_auth_failed' });
  });

  it('runs the power-off action of the simulated host (what makes a fence visible to the network)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cmpha-fence-test-'));
    try {
      const marker = path.join(dir, 'host-state');
      const bmc = await lab.start({ power: 'on', onPowerOff: [['sh', '-c', 'echo powered-off > "$0"', marker]] });
      const result = await fenceHost(driverFor(bmc), STEP);
      expect(result.ok).toBe(true);
      await expect.poll(() => (existsSync(marker) ? readFileSync(marker, 'utf8').trim() : '')).toBe('powered-off');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the BMC password never appears in a process command line', () => {
  let bmc: SimulatedBmc;
  const lab2 = new IpmiSimLab();
  beforeAll(async () => { bmc = await lab2.start({ power: 'on', password: 'PwArgvLeak-7391x' }); });
  afterAll(() => lab2.stopAll());

  it('keeps the password out of /proc/PID/cmdline of every ipmitool while it runs', async () => {
    const password = bmc.password;
    // Aimed at a port with no BMC, so each ipmitool waits about 2 s: long enough to look at it.
    const port = await freeUdpPort();
    const driver = driverFor({ port, username: 'admin', password }, {});
    const seen = new Map<number, { cmdline: string; environ: string }>();
    let done = false;
    const fence = fenceHost(driver, { ...STEP, attempts: 1 }).finally(() => { done = true; });
    while (!done) {
      for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number)) {
        try {
          const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
          if (!cmdline.split('\0')[0]!.endsWith('ipmitool') || !cmdline.includes(String(port))) continue;
          seen.set(pid, { cmdline, environ: readFileSync(`/proc/${pid}/environ`, 'utf8') });
        } catch {
          // the process exited between listing and reading
        }
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const result = await fence;
    expect(result).toMatchObject({ ok: false, code: 'bmc_unreachable' });
    expect(seen.size).toBeGreaterThan(0);
    for (const { cmdline, environ } of seen.values()) {
      expect(cmdline).not.toContain(password);
      expect(cmdline.split('\0')).toContain('-E');
      // It went where ipmitool -E reads it, which only the process owner can read.
      expect(environ.split('\0')).toContain(`IPMI_PASSWORD=${password}`);
    }
    // The password of the working BMC also stays out of results.
    const ok = await fenceHost(driverFor(bmc), STEP);
    expect(ok.ok).toBe(true);
    expect(JSON.stringify(ok)).not.toContain(password);
  });
});
