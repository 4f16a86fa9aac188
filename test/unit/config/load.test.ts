import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/load.js';
import { CONFIG_REFERENCE, renderConfigDocs, renderExampleConfig } from '../../../src/config/reference.js';
import { SECTIONS } from '../../../src/config/schema.js';
import { hostSection } from '../../../src/config/host-schema.js';
import { notifierSection } from '../../../src/config/notifier-schema.js';
import { instanceFailureSection, segmentSectionDecl } from '../../../src/config/masakari-schema.js';

const dir = mkdtempSync(path.join(tmpdir(), 'cmpha-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(text: string, name = `c${n++}.conf`): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}
const CLOUD = '[cloud]\nauth_url = http://127.0.0.1:5000/v3\nusername = admin\npassword = pw\nuser_domain_name = Default\nproject_name = admin\n';

async function problems(text: string, env: Record<string, string> = {}): Promise<string[]> {
  try {
    await loadConfig({ path: file(text), env, cwd: dir });
  } catch (err) {
    if (err instanceof ConfigError) return err.lines();
    throw err;
  }
  throw new Error('expected the config to be refused');
}

describe('cmpha.conf', () => {
  it('the shipped example loads and matches the reference it is generated from', async () => {
    const example = readFileSync(new URL('../../../cmpha.conf.example', import.meta.url), 'utf8');
    expect(example).toBe(renderExampleConfig());
    expect(readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8')).toBe(renderConfigDocs());
    const cfg = await loadConfig({ path: fileURLPath('../../../cmpha.conf.example'), env: {} });
    expect(cfg.cloud.authUrl).toBe('https://keystone.example.com:5000/v3');
    expect(cfg.detector.intervalMs).toBe(1000);
    expect(cfg.hosts.compute1?.fence.driver).toBe('ipmi');
  });

  it('documents exactly the keys the schema accepts', () => {
    const shapes: Record<string, readonly string[]> = {
      ...Object.fromEntries(Object.entries(SECTIONS).map(([k, s]) => [k, Object.keys(s.shape)])),
      'host:NAME': Object.keys(hostSection.shape),
      'notifier:NAME': Object.keys(notifierSection.shape),
      'segment:NAME': Object.keys(segmentSectionDecl.object.shape),
      instance_failure: Object.keys(instanceFailureSection.object.shape),
    };
    for (const s of CONFIG_REFERENCE) expect(s.keys.map((k) => k.key).sort(), s.section).toEqual([...(shapes[s.section] ?? [])].sort());
    expect(CONFIG_REFERENCE.map((s) => s.section).sort()).toEqual(Object.keys(shapes).sort());
  });

  it('[evacuation] states: an old explicit ACTIVE,ERROR still loads; a status with a task or SHELVED is refused naming the key', async () => {
    const old = await loadConfig({ path: file(`${CLOUD}[evacuation]\nstates = ACTIVE,ERROR\n`), env: {} });
    expect(old.evacuation.states).toEqual(['ACTIVE', 'ERROR']);
    for (const bad of ['ACTIVE,HARD_REBOOT', 'SHELVED']) {
      await expect(loadConfig({ path: file(`${CLOUD}[evacuation]\nstates = ${bad}\n`), env: {} })).rejects.toThrow(/\[evacuation\] states.*not a lasting state cmpha can move/s);
    }
  });

  it('applies defaults and parses durations into milliseconds', async () => {
    const cfg = await loadConfig({ path: file(`${CLOUD}[detector]\ninterval = 2m\nheartbeat_timeout = 1m30s\nprobe_timeout = 250ms\n`), env: {} });
    expect(cfg.detector).toMatchObject({ intervalMs: 120_000, heartbeatTimeoutMs: 90_000, probeTimeoutMs: 250, maxDeadHosts: 2, maxDeadFraction: 0.33,
      probeIntervalMs: 1000, heartbeatIntervalMs: 10_000, heartbeatMarginMs: 1000, minSilenceMs: 5000, singleSignalSilenceMs: 30_000 });
    // The default moves stopped, paused, suspended and rescued servers too (CHANGELOG: [evacuation] states).
    expect(cfg.evacuation.states).toEqual(['ACTIVE', 'ERROR', 'SHUTOFF', 'PAUSED', 'SUSPENDED', 'RESCUE']);
    expect(cfg.fencing.timeoutMs).toBe(30_000);
    expect(cfg.notifiers.map((x) => x.type)).toEqual(['log']);
    expect(Object.isFrozen(cfg.detector)).toBe(true);
  });

  it('loads the original tool\'s [ser] section with the meaning it had', async () => {
    const cfg = await loadConfig({
      path: file('[ser]\nOS_TENANT_NAME = admin\nOS_PROJECT_NAME = ops\nOS_USERNAME = nova-ha\nOS_PASSWORD = s3cret\nOS_AUTH_URL = http://10.0.0.5:5000/v3\nOS_DEFAULT_DOMAIN = Default\nINTERVAL = 20\n'),
      env: {},
    });
    expect(cfg.cloud.authUrl).toBe('http://10.0.0.5:5000/v3');
    expect(cfg.cloud.auth).toMatchObject({ type: 'password', username: 'nova-ha', projectName: 'ops', userDomainName: 'Default', projectDomainName: 'Default' });
    expect(cfg.cloud.auth.type === 'password' && cfg.cloud.auth.password.reveal()).toBe('s3cret');
    expect(cfg.detector.intervalMs).toBe(20_000);
  });

  it('takes OS_TENANT_NAME when OS_PROJECT_NAME is absent, and `default` as the domain id', async () => {
    const cfg = await loadConfig({ path: file('[ser]\nOS_TENANT_NAME = admin\nOS_USERNAME = a\nOS_PASSWORD = p\nOS_AUTH_URL = http://127.0.0.1/v3\nOS_DEFAULT_DOMAIN = default\n'), env: {} });
    expect(cfg.cloud.auth).toMatchObject({ projectName: 'admin', userDomainId: 'default', projectDomainId: 'default' });
  });

  it('reads the standard OS_* environment, and the file wins over it', async () => {
    const env = { OS_AUTH_URL: 'https://ks.example.com/v3', OS_USERNAME: 'envuser', OS_PASSWORD: 'envpw', OS_PROJECT_NAME: 'p', OS_USER_DOMAIN_NAME: 'Default', OS_REGION_NAME: 'RegionTwo', OS_INTERFACE: 'internal' };
    const cfg = await loadConfig({ path: file('[cloud]\nusername = fileuser\n'), env });
    expect(cfg.cloud).toMatchObject({ authUrl: 'https://ks.example.com/v3', regionName: 'RegionTwo', interface: 'internal' });
    expect(cfg.cloud.auth).toMatchObject({ username: 'fileuser', projectName: 'p', projectDomainName: 'Default' });
    expect(cfg.cloud.source).toBe('OS_* environment + [cloud]');
  });

  it('reads clouds.yaml named by OS_CLOUD or [cloud] cloud, with application credentials', async () => {
    const yaml = path.join(dir, 'clouds.yaml');
    writeFileSync(yaml, [
      'clouds:',
      '  prod:',
      '    auth_type: v3applicationcredential',
      '    auth:',
      '      auth_url: https://keystone.prod.example.com:5000/v3',
      '      application_credential_id: abc123',
      '      application_credential_secret: topsecret',
      '    region_name: RegionOne',
      '    interface: internal',
      '    verify: false',
    ].join('\n'));
    const byEnv = await loadConfig({ path: file(''), env: { OS_CLOUD: 'prod' }, cwd: dir });
    expect(byEnv.cloud).toMatchObject({ authUrl: 'https://keystone.prod.example.com:5000/v3', interface: 'internal', regionName: 'RegionOne', insecure: true });
    expect(byEnv.cloud.auth).toMatchObject({ type: 'application_credential', id: 'abc123' });
    expect(byEnv.cloud.auth.type === 'application_credential' && byEnv.cloud.auth.secret.reveal()).toBe('topsecret');
    const byKey = await loadConfig({ path: file(`[cloud]\ncloud = prod\nclouds_file = ${yaml}\n`), env: {} });
    expect(byKey.cloud.authUrl).toBe('https://keystone.prod.example.com:5000/v3');
  });

  it('reads secrets from *_file keys', async () => {
    const pw = path.join(dir, 'pw');
    writeFileSync(pw, 'from-file\n');
    chmodSync(pw, 0o600);
    const cfg = await loadConfig({ path: file(`[cloud]\nauth_url = http://127.0.0.1/v3\nusername = a\npassword_file = ${pw}\nuser_domain_name = D\nproject_name = p\n[host:c1]\ndriver = ipmi\naddress = 198.18.0.1\nusername = admin\npassword_file = ${pw}\n`), env: { OS_PASSWORD: 'env' } });
    expect(cfg.cloud.auth.type === 'password' && cfg.cloud.auth.password.reveal()).toBe('from-file');
    const fence = cfg.hosts.c1!.fence;
    expect(fence.driver === 'ipmi' && fence.password.reveal()).toBe('from-file');
  });

  it('never shows a secret when printed', async () => {
    const cfg = await loadConfig({ path: file(`${CLOUD}[host:c1]\ndriver = redfish\naddress = 127.0.0.1\nusername = root\npassword = "bmc#secret"\n`), env: {} });
    const printed = JSON.stringify(cfg) + String((cfg.cloud.auth as { password: unknown }).password);
    expect(printed).not.toContain('bmc#secret');
    expect(printed).not.toMatch(/"pw"/);
    expect(printed).toContain('***');
  });

  it('accepts host names with dots in [host:NAME]', async () => {
    const cfg = await loadConfig({ path: file(`${CLOUD}[host:compute1.dc1.example.com]\nmgmt_ip = 198.18.0.5\n`), env: {} });
    expect(Object.keys(cfg.hosts)).toEqual(['compute1.dc1.example.com']);
    expect(cfg.hosts['compute1.dc1.example.com']!.fence.driver).toBe('none');
  });
});

describe('bad cmpha.conf: one line per problem naming file, section and key', () => {
  it('[cloud] type picks the cloud: openstack by default, cloudpods when said, anything else refused naming file, section and key', async () => {
    expect((await loadConfig({ path: file(CLOUD), env: {} })).cloud.type).toBe('openstack');
    expect((await loadConfig({ path: file(`${CLOUD}type = cloudpods\n`), env: {} })).cloud.type).toBe('cloudpods');
    const lines = await problems(`${CLOUD}type = vmware\n`);
    expect(lines).toEqual([expect.stringMatching(/c\d+\.conf:7 \[cloud\] type: .*vmware.*openstack.*cloudpods|c\d+\.conf:7 \[cloud\] type: .*openstack.*cloudpods/)]);
  });

  it('a bad duration', async () => {
    const lines = await problems(`${CLOUD}[detector]\ninterval = soon\n`);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/c\d+\.conf:8 \[detector\] interval: "soon" is not a duration/);
  });

  it('an unknown key and an unknown section', async () => {
    const lines = await problems(`${CLOUD}[detector]\nintervall = 10s\n[detectr]\n`);
    expect(lines).toEqual([expect.stringMatching(/\[detectr\]: unknown section/), expect.stringMatching(/:8 \[detector\] intervall: unknown key/)]);
  });

  it('missing required keys, all reported at once', async () => {
    const lines = await problems('[cloud]\nusername = a\n');
    expect(lines.join('\n')).toMatch(/\[cloud\] auth_url: is required/);
    expect(lines.join('\n')).toMatch(/\[cloud\] password: is required/);
    expect(lines.join('\n')).toMatch(/\[cloud\] project_name: /);
  });

  it('an unreadable file', async () => {
    await expect(loadConfig({ path: path.join(dir, 'nope.conf'), env: {} })).rejects.toThrow(/nope\.conf: cannot read the config file: ENOENT/);
  });

  it('an unreadable secret file names the key, not the secret', async () => {
    const lines = await problems(`${CLOUD}[host:c1]\ndriver = ipmi\naddress = 198.18.0.1\nusername = u\npassword_file = /nonexistent/pw\n`);
    expect(lines).toEqual([expect.stringMatching(/\[host:c1\] password_file: cannot read secret file \/nonexistent\/pw: ENOENT/)]);
  });

  it('a malformed clouds.yaml', async () => {
    const yaml = path.join(dir, 'bad-clouds.yaml');
    writeFileSync(yaml, 'clouds:\n  prod:\n    auth: [unclosed\n');
    const lines = await problems(`[cloud]\ncloud = prod\nclouds_file = ${yaml}\n`);
    expect(lines[0]).toMatch(/bad-clouds\.yaml: malformed YAML at line \d+/);
  });

  it('a cloud missing from clouds.yaml lists the clouds there', async () => {
    const yaml = path.join(dir, 'other-clouds.yaml');
    writeFileSync(yaml, 'clouds:\n  a: {auth: {auth_url: "http://x/v3"}}\n  b: {}\n');
    const lines = await problems(`[cloud]\ncloud = prod\nclouds_file = ${yaml}\n`);
    expect(lines[0]).toMatch(/\[clouds\.prod\]: no such cloud \(clouds here: a, b\)/);
  });

  it('noop fencing is refused unless unfenced evacuation is allowed', async () => {
    const lines = await problems(`${CLOUD}[host:c1]\ndriver = noop\n`);
    expect(lines[0]).toMatch(/\[host:c1\] driver: noop fencing .* allow_unfenced_evacuation = true/);
    const cfg = await loadConfig({ path: file(`${CLOUD}[fencing]\nallow_unfenced_evacuation = true\n[host:c1]\ndriver = noop\n`), env: {} });
    expect(cfg.hosts.c1!.fence.driver).toBe('noop');
  });

  it('management addresses must be IP literals (a name would send a DNS query); a BMC name is kept for resolution at start', async () => {
    const mgmt = await problems(`${CLOUD}[host:c1]\nmgmt_ip = compute1.example.com\n`);
    expect(mgmt).toEqual([expect.stringMatching(/\[host:c1\] mgmt_ip: "compute1\.example\.com" is not an IP literal/)]);
    // Resolved once by the controller and doctor (fencing/resolve-bmc.ts); ipmitool still only gets IP literals.
    const cfg = await loadConfig({ path: file(`${CLOUD}[host:c1]\ndriver = ipmi\naddress = bmc1.example.com\nusername = u\npassword = p\n`), env: {} });
    expect(cfg.hosts.c1!.fence).toMatchObject({ driver: 'ipmi', address: 'bmc1.example.com' });
  });

  it('an unquoted # in a value would cut a password: refused, without showing the value', async () => {
    const lines = await problems('[cloud]\nauth_url = http://127.0.0.1/v3\nusername = a\npassword = abc#def\nuser_domain_name = D\nproject_name = p\n');
    expect(lines).toEqual([expect.stringMatching(/:4 \[cloud\]: value of "password" contains ';' or '#'/)]);
    expect(lines.join('')).not.toContain('abc');
  });

  it('a garbage line is reported with its line number but not its text', async () => {
    const lines = await problems(`${CLOUD}hunter2 secret line\n`);
    expect(lines).toEqual([expect.stringMatching(/:7 \[cloud\]: cannot parse this line/)]);
    expect(lines.join('')).not.toContain('hunter2');
  });

  it('a bad value from the environment says where it came from', async () => {
    const lines = await problems('', { OS_AUTH_URL: 'http://x/v3', OS_USERNAME: 'a', OS_PASSWORD: 'p', OS_PROJECT_NAME: 'p', OS_USER_DOMAIN_NAME: 'D', OS_INTERFACE: 'sideways' });
    expect(lines).toEqual([expect.stringMatching(/\[cloud\] interface: "sideways" is not one of public, internal, admin \(from OS_\* environment\)/)]);
  });

  it('a bad legacy INTERVAL', async () => {
    const lines = await problems(`${CLOUD}[ser]\nINTERVAL = often\n`);
    expect(lines).toEqual([expect.stringMatching(/\[ser\] INTERVAL: "often" is not a number of seconds/)]);
  });

  it('password and password_file together', async () => {
    const lines = await problems(`${CLOUD}[redis]\npassword = a\npassword_file = /tmp/x\n`);
    expect(lines).toEqual([expect.stringMatching(/\[redis\] password: set both password and password_file; keep one/)]);
  });
});

function fileURLPath(rel: string): string {
  return new URL(rel, import.meta.url).pathname;
}

describe('[evacuation] policy', () => {
  it('rules, policy_default and tiers are parsed once, in order', async () => {
    const cfg = await loadConfig({ path: file(`${CLOUD}[evacuation]\npolicy = name:amphora-* -> never, flavor:hw:cpu_policy=dedicated -> priority 50\npolicy_default = never\ntiers = 100, 50\n`), env: {} });
    expect(cfg.evacuation.policy?.map((r) => r.text)).toEqual(['name:amphora-* -> never', 'flavor:hw:cpu_policy=dedicated -> priority 50']);
    expect(cfg.evacuation.policyDefault).toBe('never');
    expect(cfg.evacuation.tiers).toEqual([100, 50]);
  });

  it('a bad rule or tier list is refused naming the file, section, key and what is wrong', async () => {
    const lines = await problems(`${CLOUD}[evacuation]\npolicy = name:amphora-* -> never, host:cmp1 -> never\ntiers = 50, 100\npolicy_default = maybe\n`);
    const text = lines.join('\n');
    expect(text).toMatch(/\[evacuation\] policy.*source "host" is not one of/);
    expect(text).toMatch(/\[evacuation\] tiers.*highest first/);
    expect(text).toMatch(/\[evacuation\] policy_default.*"maybe" is not one of evacuate, never/);
    expect(text).toMatch(/c\d+\.conf/);
  });
});
