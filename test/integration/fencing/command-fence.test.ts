import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { checkHostFencing } from '../../../src/fencing/check-fencing.js';
import { createFenceDriver } from '../../../src/fencing/create-driver.js';
import { fenceHost } from '../../../src/fencing/fence-host.js';
import { FakePdu } from '../../helpers/fake-pdu.js';

const dir = mkdtempSync(path.join(tmpdir(), 'cmpha-command-fence-'));
const pdus: FakePdu[] = [];
afterEach(() => { for (const p of pdus.splice(0)) p.remove(); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PASSWORD = 'pdu-secret-771';
const STEP = { timeoutMs: 3000, pollIntervalMs: 50, attempts: 2 };
let n = 0;

/** A config whose host c1 is fenced by the PDU tool, as an operator writes it. */
async function hostFencedBy(pdu: FakePdu, extra = '', password = PASSWORD) {
  const p = path.join(dir, `c${n++}.conf`);
  writeFileSync(p, [
    '[cloud]', 'auth_url = http://127.0.0.1:5000/v3', 'username = admin', 'password = pw', 'user_domain_name = Default', 'project_name = admin',
    '[fencing]', 'timeout = 3s', 'poll_interval = 100ms', 'attempts = 2',
    '[host:c1]', 'driver = command', ...pdu.commands(), 'username = apc', `password = ${password}`, extra, '',
  ].join('\n'));
  const cfg = await loadConfig({ path: p, env: {}, cwd: dir });
  return { cfg, driver: createFenceDriver(cfg.hosts.c1!, cfg.fencing)! };
}

function pdu(power: 'on' | 'off' = 'on'): FakePdu {
  const p = new FakePdu(PASSWORD, power);
  pdus.push(p);
  return p;
}

describe('driver = command against a PDU tool run as a real process', () => {
  it('switches the outlet off and counts it only once the status command reads it off; a second run sends nothing', async () => {
    const outlet = pdu('on');
    const { driver } = await hostFencedBy(outlet);
    const r = await fenceHost(driver, STEP);
    expect(r).toMatchObject({ ok: true, alreadyOff: false, unfenced: false });
    expect(outlet.power).toBe('off');
    expect(r.events.map((e) => e.kind)).toEqual(['status', 'power-off', 'status']);
    const again = await fenceHost(driver, STEP);
    expect(again).toMatchObject({ ok: true, alreadyOff: true });
    expect(outlet.argvLog().split('\n').filter((l) => / off c1$/.test(l))).toHaveLength(1);
    // The password went only through the environment.
    expect(outlet.argvLog()).not.toContain(PASSWORD);
  });

  it('an outlet that accepts off but stays on is no fence: fence_timeout, last state on', async () => {
    const outlet = pdu('on');
    outlet.quirk('stuck');
    const { driver } = await hostFencedBy(outlet);
    const r = await fenceHost(driver, STEP);
    expect(r).toMatchObject({ ok: false, code: 'fence_timeout', lastState: 'on' });
    expect(outlet.power).toBe('on');
  });

  it('an answer neither rule reads is power_state_unknown, never off', async () => {
    const outlet = pdu('on');
    outlet.quirk('garbage');
    const { driver } = await hostFencedBy(outlet);
    const r = await fenceHost(driver, { ...STEP, timeoutMs: 1000 });
    expect(r).toMatchObject({ ok: false, code: 'power_state_unknown' });
  });

  it('a wrong password fails without the password in the reason, the events or argv', async () => {
    const outlet = pdu('on');
    const { driver } = await hostFencedBy(outlet, '', 'wrong-pass-123');
    const r = await fenceHost(driver, STEP);
    expect(r.ok).toBe(false);
    expect(JSON.stringify(r)).toMatch(/authentication failed for user apc/);
    expect(JSON.stringify(r)).not.toContain('wrong-pass-123');
    expect(outlet.argvLog()).not.toContain('wrong-pass-123');
    expect(outlet.power).toBe('on');
  });

  it('a status command that hangs is killed after command_timeout and the fence fails in bounded time', async () => {
    const outlet = pdu('on');
    outlet.quirk('hang');
    const { driver } = await hostFencedBy(outlet, 'command_timeout = 300ms');
    const started = Date.now();
    const r = await fenceHost(driver, { ...STEP, attempts: 1 });
    expect(r).toMatchObject({ ok: false, code: 'bmc_timeout' });
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it('an exit-status rule and a tool that reads its password from stdin', async () => {
    const outlet = pdu('on');
    outlet.quirk('exit-codes');
    outlet.quirk('stdin-only');
    const { driver } = await hostFencedBy(outlet, 'off_answer = exit=3\non_answer = exit=0\npassword_stdin = true');
    expect(await driver.powerStatus(AbortSignal.timeout(2000))).toBe('on');
    expect(await fenceHost(driver, STEP)).toMatchObject({ ok: true, alreadyOff: false });
    expect(outlet.power).toBe('off');
    await driver.powerOn(AbortSignal.timeout(2000));
    expect(outlet.power).toBe('on');
  });

  it('fence status reads the outlet through the same device, changing nothing', async () => {
    const outlet = pdu('off');
    const { cfg } = await hostFencedBy(outlet, 'address = 192.0.2.7');
    const st = await checkHostFencing(cfg.hosts.c1!, cfg.fencing);
    expect(st).toMatchObject({ driver: 'command', bmc: '192.0.2.7', reachable: true, power: 'off', works: true, levels: [[{ device: 'command', answers: true }]] });
    expect(outlet.argvLog()).not.toMatch(/ off c1$/m);
  });
});
