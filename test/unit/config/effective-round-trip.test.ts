import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONFIG_CHECKS } from '../../../src/app/config-checks.js';
import { effectiveSettings, formatSettings } from '../../../src/cli/effective-config.js';
import { loadConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/types.js';

// What `cmpha config validate` prints must be a config file that reads back to the same settings: an operator
// who pastes it (or diffs it against the file) must see the policy in effect, not a different one.
const dir = mkdtempSync(path.join(tmpdir(), 'cmpha-round-trip-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(text: string): string {
  const p = path.join(dir, `f${n++}.conf`);
  writeFileSync(p, text);
  return p;
}
const load = (p: string) => loadConfig({ path: p, env: {}, cwd: dir, checks: CONFIG_CHECKS });

/** The config as data, without where it was read from (files, inherited keys); secrets are *** on both sides. */
const settingsOf = (c: Config): unknown => {
  const { path: _p, paths: _ps, ...rest } = c;
  const hosts = Object.fromEntries(Object.entries(c.hosts).map(([k, { inherited: _i, ...h }]) => [k, h]));
  return JSON.parse(JSON.stringify({ ...rest, hosts })) as unknown;
};

async function roundTrip(p: string): Promise<{ first: Config; printed: string; again: Config }> {
  const first = await load(p);
  const printed = formatSettings(effectiveSettings(first));
  const again = await load(file(printed));
  return { first, printed, again };
}

describe('config validate prints what reads back to the same config', () => {
  it('every key of cmpha.conf.example, `fence_levels = ipmi | ceph` as two levels', async () => {
    const example = new URL('../../../cmpha.conf.example', import.meta.url).pathname;
    const { first, printed, again } = await roundTrip(example);
    expect(printed).toMatch(/^fence_levels = ipmi \| ceph$/m);
    expect(again.fencing.fenceLevels).toEqual([['ipmi'], ['ceph']]);
    expect(settingsOf(again)).toEqual(settingsOf(first));
  });

  it('a fleet file: shared host keys, storage and tunnel addresses, per-host levels, commands, channels, ceph', async () => {
    const keyring = path.join(dir, 'keyring');
    const pw = path.join(dir, 'bmc-password');
    const token = path.join(dir, 'read-token');
    writeFileSync(keyring, '[client.cmpha]\nkey = x\n');
    writeFileSync(pw, 'bmcpw\n');
    writeFileSync(token, 'a-long-enough-read-token-0123456789\n', { mode: 0o600 });
    const { first, printed, again } = await roundTrip(file([
      '[cloud]', 'auth_url = http://127.0.0.1:5000/v3', 'username = admin', 'password = pw', 'user_domain_name = Default', 'project_name = admin', 'region_name = RegionTwo', 'api_timeout = 45s',
      '[detector]', 'instance_networks = provider, tenant-net', 'max_dead_hosts = 3',
      '[fencing]', 'fence_levels = ipmi | ceph', 'timeout = 20s',
      '[ceph]', `keyring_file = ${keyring}`, 'mon_host = 198.18.0.200', 'volume_pools = volumes, fast',
      '[host_defaults]', 'driver = ipmi', 'username = admin', `password_file = ${pw}`, 'ipmi_cipher_suite = 3', 'ipmi_timeout = 2s',
      '[host:compute-gpu-*]', 'driver = redfish', 'redfish_scheme = http', 'redfish_auth = session',
      '[host:compute1]', 'address = 198.18.0.101', 'mgmt_ip = 198.18.0.11', 'storage_ip = 198.18.0.51', 'tunnel_ip = 198.18.0.91',
      '[host:compute2]', 'address = 198.18.0.102', 'storage_ips = 198.18.0.52, 198.18.0.62', 'fence_levels = ipmi, ceph | ceph',
      `agent_command = ssh -o "BatchMode yes" root@{mgmt_ip} 'docker restart nova_compute'`,
      '[host:compute-gpu-01]', 'address = 198.18.0.201', 'username = root', 'password = own',
      '[evacuation]', 'states = ACTIVE', 'stagger = 1s',
      '[notifier:ops]', 'type = webhook', 'url = http://127.0.0.1:9/hook', 'min_severity = warning', 'events = incident-opened, incident-resolved',
      '[api]', `read_token_files = ${token}`,
      '[redis]', 'url = redis://:secret@127.0.0.1:6379/2',
      '',
    ].join('\n')));
    expect(printed).toMatch(/^storage_ip = 198\.18\.0\.51$/m);
    expect(printed).toMatch(/^ipmi_cipher_suite = 3 +; inherited from \[host_defaults\]$/m);
    expect(printed).toMatch(/^redfish_auth = session +; inherited from \[host:compute-gpu-\*\]$/m);
    expect(settingsOf(again)).toEqual(settingsOf(first));
  });
});
