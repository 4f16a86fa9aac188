import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseFenceLevels } from '../../../src/config/fence-levels-field.js';
import { ConfigError, loadConfig } from '../../../src/config/load.js';

const dir = mkdtempSync(path.join(tmpdir(), 'cmpha-levels-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const keyring = path.join(dir, 'ceph.client.cmpha.keyring');
writeFileSync(keyring, '[client.cmpha]\n\tkey = AQAAAAAAAAAAABAAAAAAAAAAAAAAAAAAAAAAAA==\n');
let n = 0;
const CLOUD = '[cloud]\nauth_url = http://127.0.0.1:5000/v3\nusername = admin\npassword = pw\nuser_domain_name = Default\nproject_name = admin\n';
const IPMI = 'driver = ipmi\naddress = 192.0.2.1\nusername = admin\npassword = pw\n';
const CEPH = `[ceph]\nmon_host = 192.0.2.100\nkeyring_file = ${keyring}\n`;

async function load(text: string) {
  const p = path.join(dir, `c${n++}.conf`);
  writeFileSync(p, CLOUD + text);
  return loadConfig({ path: p, env: {}, cwd: dir });
}
async function problems(text: string): Promise<string[]> {
  try { await load(text); } catch (err) { if (err instanceof ConfigError) return err.lines(); throw err; }
  throw new Error('expected the config to be refused');
}

describe('fence_levels', () => {
  it('parses levels with | and devices with ,', () => {
    expect(parseFenceLevels('ipmi | ceph')).toEqual({ levels: [['ipmi'], ['ceph']] });
    expect(parseFenceLevels('redfish, ceph | ceph')).toEqual({ levels: [['redfish', 'ceph'], ['ceph']] });
    expect(parseFenceLevels('ipmi || ceph')).toEqual({ error: 'level 2 is empty in "ipmi || ceph"' });
    expect(parseFenceLevels('ipmi | san')).toMatchObject({ error: expect.stringMatching(/"san" is not a fence device/) });
  });

  it('a shared default serves hosts with and without Ceph; each keeps the levels it can use', async () => {
    const cfg = await load(`[fencing]\nfence_levels = ipmi | ceph\n${CEPH}[host:c1]\n${IPMI}storage_ips = 198.18.30.11\n[host:c2]\n${IPMI}\n`);
    expect(cfg.hosts.c1).toMatchObject({ fenceLevels: [['ipmi'], ['ceph']], storageIps: ['198.18.30.11'] });
    expect(cfg.hosts.c2).toMatchObject({ fenceLevels: [['ipmi']], storageIps: [] });
    expect(cfg.ceph).toMatchObject({ monHost: '192.0.2.100', user: 'cmpha', keyringFile: keyring, imagesRbdPool: 'vms', blocklistExpireS: 3600 });
  });

  it('a host\'s own levels must name devices it has', async () => {
    const lines = await problems(`[host:c1]\n${IPMI}fence_levels = redfish | ceph\n`);
    expect(lines).toEqual([
      expect.stringMatching(/\[host:c1\] fence_levels: level 1: redfish needs driver = redfish \(this host's driver is ipmi\)/),
      expect.stringMatching(/\[host:c1\] fence_levels: level 2: ceph needs a \[ceph\] section with keyring_file/),
    ]);
    expect(await problems(`${CEPH}[host:c1]\n${IPMI}fence_levels = ipmi | ceph\n`)).toEqual([
      expect.stringMatching(/level 2: ceph needs storage_ips/),
    ]);
  });

  it('kdump: available with [kdump] enabled and the host\'s addresses; a combined level keeps its order', async () => {
    const cfg = await load(`[kdump]\nenabled = true\nlisten = 198.18.0.1:7410\nmax_dump_wait = 5m\n[host:c1]\n${IPMI}mgmt_ip = 198.18.30.11\nfence_levels = kdump | ipmi\n[host:c2]\n${IPMI}mgmt_ip = 198.18.30.12\nfence_levels = kdump, ipmi\n`);
    expect(cfg.hosts.c1).toMatchObject({ fenceLevels: [['kdump'], ['ipmi']] });
    expect(cfg.hosts.c2).toMatchObject({ fenceLevels: [['kdump', 'ipmi']] });
    expect(cfg.kdump).toEqual({ listen: { host: '198.18.0.1', port: 7410 }, waitMs: 60_000, quietAfterMs: 30_000, maxDumpWaitMs: 300_000 });
    expect(await problems(`[host:c1]\n${IPMI}mgmt_ip = 198.18.30.11\nfence_levels = kdump | ipmi\n`)).toEqual([
      expect.stringMatching(/\[host:c1\] fence_levels: level 1: kdump needs \[kdump\] enabled = true/),
    ]);
    expect(await problems(`[kdump]\nenabled = true\n[host:c1]\n${IPMI}fence_levels = kdump | ipmi\n`)).toEqual([
      expect.stringMatching(/level 1: kdump needs the host's addresses in its section \(mgmt_ip, storage_ips or tunnel_ip\)/),
    ]);
    expect(await problems('[kdump]\nenabled = true\nlisten = 7410\n')).toEqual([expect.stringMatching(/\[kdump\] listen: "7410" is not HOST:PORT/)]);
  });

  it('a storage-only host: driver none with the ceph level', async () => {
    const cfg = await load(`${CEPH}[host:c1]\nfence_levels = ceph\nstorage_ips = 198.18.30.11, 198.18.31.11\n`);
    expect(cfg.hosts.c1).toMatchObject({ fence: { driver: 'none' }, fenceLevels: [['ceph']], storageIps: ['198.18.30.11', '198.18.31.11'] });
  });

  it('refuses a storage address that is not an IP literal and a [ceph] without keyring', async () => {
    expect(await problems(`[host:c1]\n${IPMI}storage_ips = storage1.example\n`)).toEqual([expect.stringMatching(/storage_ips: "storage1.example" is not an IP literal/)]);
    expect(await problems('[ceph]\nmon_host = 192.0.2.100\n')).toEqual([expect.stringMatching(/\[ceph\] keyring_file: is required/)]);
  });
});
