import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONFIG_CHECKS } from '../../../src/app/config-checks.js';
import { ConfigError, loadConfig, type ConfigIssue } from '../../../src/config/load.js';
import { configWarnings } from '../../../src/config/warnings.js';

const dir = mkdtempSync(path.join(tmpdir(), 'cmpha-fleet-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(text: string, name = `f${n++}.conf`): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}
const CLOUD = '[cloud]\nauth_url = http://127.0.0.1:5000/v3\nusername = admin\npassword = pw\nuser_domain_name = Default\nproject_name = admin\n';
const pwFile = path.join(dir, 'bmc-pw');
writeFileSync(pwFile, 'from-defaults\n');

async function problems(text: string, env: Record<string, string> = {}): Promise<string[]> {
  try {
    await loadConfig({ path: file(text), env, cwd: dir, checks: CONFIG_CHECKS });
  } catch (err) {
    if (err instanceof ConfigError) return err.lines();
    throw err;
  }
  throw new Error('expected the config to be refused');
}

describe('hosts at fleet scale', () => {
  it('[host_defaults] < matching [host:PATTERN] sections < [host:NAME]', async () => {
    const cfg = await loadConfig({
      path: file(`${CLOUD}[host_defaults]\ndriver = ipmi\nusername = admin\npassword_file = ${pwFile}\nipmi_cipher_suite = 3\n`
        + '[host:compute-gpu-*]\ndriver = redfish\nredfish_scheme = http\n'
        + '[host:compute-001]\naddress = 198.18.0.101\n'
        + '[host:compute-gpu-01]\naddress = 198.18.0.201\n'
        + '[host:compute-002]\naddress = 198.18.0.102\nusername = root\npassword = own\n'),
      env: {},
    });
    expect(cfg.hosts['compute-001']!.fence).toMatchObject({ driver: 'ipmi', address: '198.18.0.101', username: 'admin', port: 623, ipmi: { cipherSuite: 3 } });
    const f1 = cfg.hosts['compute-001']!.fence;
    expect(f1.driver === 'ipmi' && f1.password.reveal()).toBe('from-defaults');
    expect(cfg.hosts['compute-gpu-01']!.fence).toMatchObject({ driver: 'redfish', address: '198.18.0.201', port: 80, redfish: { scheme: 'http' } });
    // A password of its own replaces the inherited password_file: not "set both".
    const f2 = cfg.hosts['compute-002']!.fence;
    expect(f2.driver === 'ipmi' && f2.password.reveal()).toBe('own');
    expect(Object.keys(cfg.hosts).sort()).toEqual(['compute-001', 'compute-002', 'compute-gpu-01']);
  });

  it('500 hosts are 500 one-line sections', async () => {
    const hosts = Array.from({ length: 500 }, (_, i) => `[host:c${i}]\naddress = 198.18.${Math.floor(i / 250)}.${(i % 250) + 1}\n`).join('');
    const cfg = await loadConfig({ path: file(`${CLOUD}[host_defaults]\ndriver = ipmi\nusername = admin\npassword_file = ${pwFile}\n${hosts}`), env: {} });
    expect(Object.keys(cfg.hosts)).toHaveLength(500);
    expect(cfg.hosts.c499!.fence).toMatchObject({ driver: 'ipmi', address: '198.18.1.250' });
  });

  it('an inherited bad value is reported at the line that set it', async () => {
    const f = file(`${CLOUD}[host_defaults]\ndriver = ipmi\nipmi_cipher_suite = 99\n[host:c1]\naddress = 198.18.0.1\nusername = u\npassword = p\n`);
    const err = await loadConfig({ path: f, env: {} }).catch((e: unknown) => e as ConfigError);
    // Once, where it was written, not once per host that inherits it.
    expect((err as ConfigError).lines()).toEqual([`${f}:9 [host_defaults] ipmi_cipher_suite: 99 is out of range (0..17)`]);
  });

  it('per-machine keys are refused in shared sections; a pattern matching no host is a warning', async () => {
    const lines = await problems(`${CLOUD}[host_defaults]\naddress = 198.18.0.1\n[host:compute-*]\nmgmt_ip = 198.18.0.2\n`);
    expect(lines).toEqual(expect.arrayContaining([
      expect.stringMatching(/:10 \[host:compute-\*\] mgmt_ip: names one machine/),
      expect.stringMatching(/:8 \[host_defaults\] address: names one machine/),
    ]));
    const warnings: ConfigIssue[] = [];
    await loadConfig({ path: file(`${CLOUD}[host:rack9-*]\ndriver = none\n`), env: {}, onWarning: (w) => warnings.push(w) });
    expect(warnings).toEqual([expect.objectContaining({ section: 'host:rack9-*', line: 7, message: expect.stringMatching(/matches no \[host:NAME\]/) })]);
  });

  it('BMC settings written in a driver = none host are a warning; inherited ones are not', async () => {
    const warnings: ConfigIssue[] = [];
    await loadConfig({
      path: file(`${CLOUD}[host_defaults]\nusername = admin\npassword = shared-secret\n[host:c1]\ndriver = none\n[host:c2]\ndriver = none\naddress = 198.18.0.9\npassword = own-secret\n`),
      env: {}, onWarning: (w) => warnings.push(w),
    });
    expect(warnings).toEqual([expect.objectContaining({ section: 'host:c2', message: expect.stringMatching(/^driver = none: address, password set here are not used; cmpha calls no BMC/) })]);
    expect(JSON.stringify(warnings)).not.toMatch(/secret/);
  });
});

describe('OpenStack habits', () => {
  it('[DEFAULT] is accepted: debug sets the log level; other keys say where they belong', async () => {
    const cfg = await loadConfig({ path: file(`[DEFAULT]\ndebug = true\n${CLOUD}`), env: {} });
    expect(cfg.logging.level).toBe('debug');
    const lines = await problems(`[DEFAULT]\ninterval = 5s\nintervl = 5s\n${CLOUD}`);
    expect(lines).toEqual([
      expect.stringMatching(/:2 \[DEFAULT\] interval: cmpha reads only debug from \[DEFAULT\]; it belongs in \[detector\]/),
      expect.stringMatching(/:3 \[DEFAULT\] intervl: .*\(did you mean \[detector\] interval\?\)/),
    ]);
  });

  it('keystoneauth\'s cafile and valid_interfaces, and internalURL', async () => {
    const ca = path.join(dir, 'ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\n');
    const cfg = await loadConfig({ path: file(`${CLOUD}cafile = ${ca}\nvalid_interfaces = internalURL\n`), env: {} });
    expect(cfg.cloud).toMatchObject({ cacert: ca, interface: 'internal' });
    const env = await loadConfig({ path: file(CLOUD), env: { OS_INTERFACE: 'internalURL' } });
    expect(env.cloud.interface).toBe('internal');
    const two = await problems(`${CLOUD}valid_interfaces = internal,public\n`);
    expect(two).toEqual([expect.stringMatching(/:7 \[cloud\] valid_interfaces: cmpha uses one interface.*\(did you mean interface = internal\?\)/)]);
  });

  it('clouds.yaml with its secure.yaml merged over it, as openstackclient does', async () => {
    const d = path.join(dir, 'os');
    mkdirSync(d, { recursive: true });
    writeFileSync(path.join(d, 'clouds.yaml'), 'clouds:\n  prod:\n    auth:\n      auth_url: https://keystone.example.com:5000/v3\n      username: cmpha\n      user_domain_name: Default\n      project_name: admin\n    interface: internalURL\n');
    writeFileSync(path.join(d, 'secure.yaml'), 'clouds:\n  prod:\n    auth:\n      password: from-secure-yaml\n');
    const cfg = await loadConfig({ path: file(''), env: { OS_CLOUD: 'prod', OS_CLIENT_CONFIG_FILE: path.join(d, 'clouds.yaml') }, cwd: dir });
    expect(cfg.cloud.auth.type === 'password' && cfg.cloud.auth.password.reveal()).toBe('from-secure-yaml');
    expect(cfg.cloud).toMatchObject({ authUrl: 'https://keystone.example.com:5000/v3', interface: 'internal' });
    expect(cfg.cloud.source).toContain('secure.yaml');
  });

  it('several files: a later one overrides an earlier one key by key', async () => {
    const a = file(`${CLOUD}[detector]\ninterval = 10s\nprobe_count = 3\n`);
    const b = file('[detector]\ninterval = 20s\n[detectorr]\n');
    const err = await loadConfig({ paths: [a, b], env: {} }).catch((e: unknown) => e as ConfigError);
    expect((err as ConfigError).lines()).toEqual([expect.stringMatching(new RegExp(`^${b.replace(/[.]/g, '\\.')}:3 \\[detectorr\\]: unknown section`))]);
    const d = path.join(dir, 'conf.d');
    mkdirSync(d, { recursive: true });
    writeFileSync(path.join(d, '50-site.conf'), '[detector]\nprobe_count = 4\n');
    writeFileSync(path.join(d, 'ignored.txt'), '[nonsense]\n');
    const cfg = await loadConfig({ paths: [a, file('[detector]\ninterval = 20s\n')], dirs: [d], env: {} });
    expect(cfg.detector).toMatchObject({ intervalMs: 20_000, probeCount: 4 });
  });

  it('a webhook without a preset names the presets that send SMS and calls', async () => {
    const lines = await problems(`${CLOUD}[notifier:sms]\ntype = webhook\nrecipients = +15550001111\n`);
    expect(lines).toEqual([expect.stringMatching(/\[notifier:sms\] url: is required for preset generic-json .*twilio-sms or twilio-call; presets: twilio-sms, twilio-call, slack, generic-json, custom/)]);
    const bad = await problems(`${CLOUD}[notifier:sms]\ntype = webhook\npreset = sms\nrecipients = +15550001111\nurl = https://x.example/\n`);
    expect(bad.join('\n')).toMatch(/:9 \[notifier:sms\] preset: "sms" is not one of twilio-sms, twilio-call, slack, generic-json, custom/);
    const typo = await problems(`${CLOUD}[notifier:mail]\ntype = email\nrecipients = a@b.c\nhost = h\nfrom = f@b.c\ntiemout = 5s\n`);
    expect(typo).toEqual([expect.stringMatching(/:12 \[notifier:mail\] tiemout: unknown key for this notifier type \(did you mean timeout\?\)/)]);
  });

  it('warns when no instance network can veto a fence', async () => {
    const none = await loadConfig({ path: file(CLOUD), env: {} });
    expect(configWarnings(none)).toEqual([expect.objectContaining({ section: 'detector', key: 'instance_networks' })]);
    const some = await loadConfig({ path: file(`${CLOUD}[detector]\ninstance_networks = provider\n`), env: {} });
    expect(configWarnings(some)).toEqual([]);
  });
});

describe('[redis] Sentinel, TLS and ACL keys', () => {
  it('are typed: sentinels as host/port, secrets as Secret, TLS files as paths', async () => {
    const spw = path.join(dir, 'sentinel-pw');
    writeFileSync(spw, 'sentinel-secret\n');
    const ca = path.join(dir, 'redis-ca.pem');
    writeFileSync(ca, 'x');
    const cfg = await loadConfig({ path: file(`${CLOUD}[redis]\nsentinels = 127.0.0.1:26379, [::1]:26380\nmaster_name = cmpha\nsentinel_password_file = ${spw}\nusername = cmpha\npassword = p\ntls = true\ntls_ca_file = ${ca}\n`), env: {} });
    expect(cfg.redis).toMatchObject({ sentinels: [{ host: '127.0.0.1', port: 26379 }, { host: '::1', port: 26380 }], masterName: 'cmpha', username: 'cmpha', tls: { ca } });
    expect(cfg.redis.sentinelPassword?.reveal()).toBe('sentinel-secret');
    expect(JSON.stringify(cfg.redis)).not.toContain('sentinel-secret');
    const plainCfg = await loadConfig({ path: file(CLOUD), env: {} });
    expect(plainCfg.redis.sentinels).toBeUndefined();
    expect(plainCfg.redis.tls).toBeUndefined();
    expect((await loadConfig({ path: file(`${CLOUD}[redis]\nurl = rediss://127.0.0.1:6380\n`), env: {} })).redis.tls).toEqual({});
  });

  it('are validated together', async () => {
    expect(await problems(`${CLOUD}[redis]\nsentinels = 127.0.0.1:26379\n`)).toEqual([expect.stringMatching(/\[redis\] master_name: is required with sentinels/)]);
    expect(await problems(`${CLOUD}[redis]\nsentinels = 127.0.0.1\nmaster_name = m\n`)).toEqual([expect.stringMatching(/:8 \[redis\] sentinels: "127\.0\.0\.1" is not HOST:PORT/)]);
    expect(await problems(`${CLOUD}[redis]\ntls_ca_file = /nonexistent/ca.pem\n`)).toEqual([expect.stringMatching(/\[redis\] tls_ca_file: is set but TLS is off/)]);
    expect(await problems(`${CLOUD}[redis]\nurl = redis+sentinel://127.0.0.1:26379\n`)).toEqual([expect.stringMatching(/\[redis\] url: redis\+sentinel:\/\/ URLs are not supported: set sentinels/)]);
    expect(await problems(`${CLOUD}[redis]\ntls = true\ntls_cert_file = /nonexistent/cert.pem\n`)).toEqual(expect.arrayContaining([
      expect.stringMatching(/\[redis\] tls_cert_file: \/nonexistent\/cert\.pem does not exist/),
      expect.stringMatching(/\[redis\] tls_key_file: a client certificate needs both tls_cert_file and tls_key_file/),
    ]));
  });
});

describe('cmpha.conf.example', () => {
  it('its commented email, SMS and phone sections are valid once uncommented', async () => {
    const secret = path.join(dir, 'channel-secret');
    writeFileSync(secret, 'x\n');
    const example = (await import('node:fs')).readFileSync(new URL('../../../cmpha.conf.example', import.meta.url), 'utf8');
    // Uncomment each commented [notifier:...] block, up to the blank line that ends it.
    let inBlock = false;
    const lines = example.split('\n').map((l) => {
      if (/^# \[notifier:[a-z-]+\]$/.test(l)) inBlock = true;
      else if (l.trim() === '') inBlock = false;
      return inBlock ? l.slice(2) : l;
    });
    const text = lines.join('\n').replace(/\/etc\/cmpha\/[a-z-]+/g, secret);
    const cfg = await loadConfig({ path: file(text), env: {}, checks: CONFIG_CHECKS });
    expect(cfg.notifiers.map((x) => `${x.name}:${x.type}:${x.options.preset ?? ''}`)).toEqual(['log:log:', 'ops-mail:email:', 'sms:webhook:twilio-sms', 'pager:webhook:twilio-call']);
  });
});

describe('clouds.yaml problems are placed by file and line', () => {
  it('a mistyped auth key', async () => {
    const yaml = path.join(dir, 'typo-clouds.yaml');
    writeFileSync(yaml, 'clouds:\n  prod:\n    auth:\n      auth_url: https://keystone.example.com/v3\n      pasword: x\n');
    const lines = await problems(`[cloud]\ncloud = prod\nclouds_file = ${yaml}\n`);
    expect(lines[0]).toBe(`${yaml}:5 [clouds.prod.auth] pasword: unknown key (did you mean password?)`);
  });
});
