import { describe, expect, it } from 'vitest';
import { Secret } from '../../../src/config/secret.js';
import type { HostConfig } from '../../../src/config/types.js';
import { createFenceDriver } from '../../../src/fencing/create-driver.js';
import { resolveBmcAddresses, type BmcLookup } from '../../../src/fencing/resolve-bmc.js';

const ipmi = { interface: 'lanplus', cipherSuite: 3, timeoutS: 1, retries: 1 } as const;
const host = (name: string, address: string): HostConfig => ({ name, fence: { driver: 'ipmi', address, port: 623, username: 'admin', password: new Secret('pw'), ipmi } });
const fencing = { timeoutMs: 5000, pollIntervalMs: 100, allowUnfencedEvacuation: false, ipmitoolPath: 'ipmitool', attempts: 1 };

// A table stands in for DNS: no test sends a query off this machine.
const table: Record<string, string> = { 'bmc-1.example.com': '198.18.0.101' };
const lookup: BmcLookup = async (name) => {
  const ip = table[name];
  if (ip === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
  return ip;
};

describe('BMC names for IPMI', () => {
  it('are resolved once, so ipmitool only ever gets an IP literal', async () => {
    const asked: string[] = [];
    const r = await resolveBmcAddresses({ c1: host('c1', 'bmc-1.example.com'), c2: host('c2', '198.18.0.102') }, async (n) => { asked.push(n); return lookup(n); });
    expect(asked).toEqual(['bmc-1.example.com']);
    expect(r.hosts.c1!.fence).toMatchObject({ driver: 'ipmi', address: '198.18.0.101' });
    expect(r.hosts.c2!.fence).toMatchObject({ address: '198.18.0.102' });
    expect(r.resolved).toEqual([{ host: 'c1', name: 'bmc-1.example.com', address: '198.18.0.101' }]);
    expect(createFenceDriver(r.hosts.c1!, fencing)?.kind).toBe('ipmi');
  });

  it('a name that does not resolve leaves the host unfenced (never evacuated) and says so', async () => {
    const r = await resolveBmcAddresses({ c3: host('c3', 'bmc-3.example.com') }, lookup);
    expect(r.hosts.c3!.fence).toEqual({ driver: 'none' });
    expect(r.problems).toEqual([expect.objectContaining({ host: 'c3', message: expect.stringMatching(/\[host:c3\] address: BMC name "bmc-3\.example\.com" does not resolve \(.*ENOTFOUND.*\): this host cannot be fenced/) })]);
    expect(createFenceDriver(r.hosts.c3!, fencing)).toBeNull();
  });
});
