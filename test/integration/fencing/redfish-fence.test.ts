import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Secret } from '../../../src/config/secret.js';
import type { FencingConfig, HostConfig, RedfishOptions } from '../../../src/config/types.js';
import { createFenceDriver } from '../../../src/fencing/create-driver.js';
import { fenceHost, type FenceHostOptions } from '../../../src/fencing/fence-host.js';
import { runSim, type RunningSim } from '../../../src/sim/index.js';
import { startRedfishServer, type RedfishTestServer } from '../../helpers/redfish-server.js';

const FENCING: FencingConfig = { timeoutMs: 10_000, pollIntervalMs: 100, allowUnfencedEvacuation: false, ipmitoolPath: 'ipmitool', attempts: 2 };
const STEP: FenceHostOptions = { timeoutMs: 10_000, pollIntervalMs: 100, attempts: 2 };

function redfishHost(name: string, port: number, user: string, password: string, redfish: Partial<RedfishOptions> = {}): HostConfig {
  return {
    name,
    fence: { driver: 'redfish', address: '127.0.0.1', port, username: user, password: new Secret(password), redfish: { scheme: 'http', auth: 'basic', insecure: false, ...redfish } },
  };
}

function driver(host: HostConfig) {
  const d = createFenceDriver(host, FENCING, { redfishRequestTimeoutMs: 3000 });
  if (!d) throw new Error('expected a driver');
  return d;
}

describe('Redfish fencing against the cloud simulator', () => {
  let sim: RunningSim;
  let port: number;
  beforeAll(async () => {
    sim = await runSim({ hosts: 6, spares: 0, instancesPerHost: 0 });
    port = Number(new URL(sim.controlUrl).port);
  });
  afterAll(() => sim?.close());

  const bmc = (name: string) => sim.world.host(name)!.bmc;
  const host = (name: string, redfish: Partial<RedfishOptions> = {}, password = bmc(name).password) =>
    redfishHost(name, port, bmc(name).username, password, redfish);
  async function simPower(name: string): Promise<string> {
    const state = await (await fetch(`${sim.controlUrl}/sim/state`)).json() as { hosts: { name: string; power: string }[] };
    return state.hosts.find((h) => h.name === name)!.power;
  }
  async function setBmcMode(name: string, mode: string) {
    const res = await fetch(`${sim.controlUrl}/sim/hosts/${name}/bmc`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ mode }) });
    expect(res.status).toBe(200);
  }

  it('powers a host off with basic auth and reads it back off; a second run sends nothing', async () => {
    expect(await simPower('compute1')).toBe('on');
    const first = await fenceHost(driver(host('compute1', { system: 'compute1' })), STEP);
    expect(first).toMatchObject({ ok: true, alreadyOff: false });
    expect(await simPower('compute1')).toBe('off');
    const second = await fenceHost(driver(host('compute1', { system: 'compute1' })), STEP);
    expect(second).toMatchObject({ ok: true, alreadyOff: true });
    expect(second.events.map((e) => e.kind)).toEqual(['status']);
  });

  it('powers a host off with a session, finding the system when none is configured', async () => {
    const result = await fenceHost(driver(host('compute2', { auth: 'session' })), STEP);
    expect(result).toMatchObject({ ok: true, alreadyOff: false });
    expect(await simPower('compute2')).toBe('off');
  });

  it('fails with bmc_auth_failed on a wrong password, without retrying, for basic and session auth', async () => {
    for (const auth of ['basic', 'session'] as const) {
      const result = await fenceHost(driver(host('compute3', { auth, system: 'compute3' }, 'wrong-password-42')), STEP);
      expect(result).toMatchObject({ ok: false, code: 'bmc_auth_failed' });
      expect(result.events.filter((e) => e.kind === 'error')).toHaveLength(1);
      expect(JSON.stringify(result)).not.toContain('wrong-password-42');
    }
    expect(await simPower('compute3')).toBe('on');
  });

  it('fails with fence_timeout when the BMC accepts ForceOff but the power stays on', async () => {
    await setBmcMode('compute4', 'stuck-on');
    const result = await fenceHost(driver(host('compute4', { system: 'compute4' })), { ...STEP, timeoutMs: 1500 });
    expect(result).toMatchObject({ ok: false, code: 'fence_timeout', lastState: 'on' });
    expect(await simPower('compute4')).toBe('on');
  });

  it('retries a BMC that answers 500 and then gives up with bmc_error', async () => {
    await setBmcMode('compute5', 'error');
    const result = await fenceHost(driver(host('compute5', { system: 'compute5' })), STEP);
    expect(result).toMatchObject({ ok: false, code: 'bmc_error' });
    expect(result.events.filter((e) => e.kind === 'error').map((e) => e.attempt)).toEqual([1, 2]);
  });

  it('fails with bmc_unreachable when the BMC drops the connection', async () => {
    await setBmcMode('compute6', 'unreachable');
    const result = await fenceHost(driver(host('compute6', { system: 'compute6' })), STEP);
    expect(result).toMatchObject({ ok: false, code: 'bmc_unreachable' });
    expect(await simPower('compute6')).toBe('on');
  });
});

describe('Redfish fencing against a BMC with its own certificate authority', () => {
  let dir: string;
  let server: RedfishTestServer;
  const USER = 'root';
  const PASSWORD = 'calvin-9876';

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'cmpha-redfish-ca-'));
    const f = (n: string) => path.join(dir, n);
    const ossl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
    ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=cmpha test BMC CA');
    ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('bmc.key'), '-out', f('bmc.csr'), '-subj', '/CN=127.0.0.1');
    writeFileSync(f('san.ext'), 'subjectAltName=IP:127.0.0.1\n');
    ossl('x509', '-req', '-in', f('bmc.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('bmc.pem'), '-days', '2', '-extfile', f('san.ext'));
    server = await startRedfishServer({
      username: USER, password: PASSWORD,
      tls: { key: readFileSync(f('bmc.key'), 'utf8'), cert: readFileSync(f('bmc.pem'), 'utf8') },
      systems: [{ id: 'System.Embedded.1', power: 'On' }, { id: 'System.Embedded.2', power: 'On' }],
    });
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const https = (redfish: Partial<RedfishOptions>, password = PASSWORD) =>
    redfishHost('compute-7', server.port, USER, password, { scheme: 'https', system: 'System.Embedded.1', ...redfish });

  it('refuses the BMC when its certificate cannot be verified, without retrying', async () => {
    const before = server.calls.length;
    const result = await fenceHost(driver(https({})), STEP);
    expect(result).toMatchObject({ ok: false, code: 'bmc_tls_failed' });
    if (!result.ok) expect(result.reason).toContain('redfish_cacert');
    expect(result.events.filter((e) => e.kind === 'error')).toHaveLength(1);
    expect(server.calls.length).toBe(before);
    expect(server.systems.get('System.Embedded.1')!.power).toBe('On');
  });

  it('fences over HTTPS once redfish_cacert names the CA, posting ForceOff to the advertised target, and logs out', async () => {
    const result = await fenceHost(driver(https({ cacert: path.join(dir, 'ca.pem'), auth: 'session' })), STEP);
    expect(result).toMatchObject({ ok: true, alreadyOff: false });
    expect(server.systems.get('System.Embedded.1')!.power).toBe('Off');
    expect(server.systems.get('System.Embedded.2')!.power).toBe('On');
    const resets = server.calls.filter((c) => c.method === 'POST' && c.path.includes('Reset'));
    expect(resets).toEqual([{ method: 'POST', path: '/redfish/v1/Systems/System.Embedded.1/Actions/Oem/ComputerSystem.Reset', auth: 'session', body: { ResetType: 'ForceOff' } }]);
    // Every session opened was deleted, through the configured address though the BMC sent an absolute URL.
    expect(server.openSessions()).toBe(0);
    expect(server.calls.filter((c) => c.method === 'DELETE').length).toBe(server.calls.filter((c) => c.method === 'POST' && c.path.endsWith('/Sessions')).length);
  });

  it('connects without verification only when redfish_insecure is set', async () => {
    const d = driver(https({ insecure: true, system: 'System.Embedded.2' }));
    expect(await d.powerStatus(AbortSignal.timeout(5000))).toBe('on');
  });

  it('asks for redfish_system when the BMC manages several systems and none is configured', async () => {
    const host = https({ cacert: path.join(dir, 'ca.pem') });
    const { system: _drop, ...withoutSystem } = (host.fence as { redfish: RedfishOptions }).redfish;
    const result = await fenceHost(driver({ ...host, fence: { ...host.fence, redfish: withoutSystem } as HostConfig['fence'] }), STEP);
    expect(result).toMatchObject({ ok: false, code: 'fence_config_invalid' });
    if (!result.ok) expect(result.reason).toMatch(/System\.Embedded\.1, System\.Embedded\.2.*set redfish_system in \[host:compute-7\]/);
    expect(server.systems.get('System.Embedded.2')!.power).toBe('On');
  });

  it('fails with bmc_auth_failed on a wrong password over HTTPS, and never echoes it', async () => {
    const result = await fenceHost(driver(https({ cacert: path.join(dir, 'ca.pem'), system: 'System.Embedded.2' }, 'not-calvin-1')), STEP);
    expect(result).toMatchObject({ ok: false, code: 'bmc_auth_failed' });
    expect(JSON.stringify(result)).not.toContain('not-calvin-1');
    expect(server.systems.get('System.Embedded.2')!.power).toBe('On');
  });
});

describe('Redfish power states that do not prove the host is off', () => {
  let server: RedfishTestServer;
  beforeAll(async () => {
    server = await startRedfishServer({ username: 'admin', password: 'pw-0001', systems: [{ id: '1', power: 'On' }] });
  });
  afterAll(() => server?.close());

  it.each([
    ['PoweringOff', 'on'],
    ['PoweringOn', 'on'],
    ['Paused', 'on'],
    [null, 'unknown'],
    ['Standby', 'unknown'],
    ['Off', 'off'],
  ])('reads PowerState %j as %s', async (power, expected) => {
    server.systems.get('1')!.power = power;
    const d = driver(redfishHost('compute-8', server.port, 'admin', 'pw-0001', { system: '1' }));
    expect(await d.powerStatus(AbortSignal.timeout(5000))).toBe(expected);
  });

  it('keeps a host that reads PoweringOff from counting as fenced', async () => {
    const sys = server.systems.get('1')!;
    sys.power = 'PoweringOff';
    sys.stuckOn = true;
    const result = await fenceHost(driver(redfishHost('compute-8', server.port, 'admin', 'pw-0001', { system: '1' })), { ...STEP, timeoutMs: 800 });
    expect(result).toMatchObject({ ok: false, code: 'fence_timeout', lastState: 'on' });
  });
});
