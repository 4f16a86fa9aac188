import { describe, expect, it } from 'vitest';
import { Secret } from '../../../src/config/secret.js';
import type { FencingConfig, HostConfig } from '../../../src/config/types.js';
import { createFenceDriver } from '../../../src/fencing/create-driver.js';
import { CmphaError } from '../../../src/shared/errors.js';

const FENCING: FencingConfig = { timeoutMs: 30_000, pollIntervalMs: 1000, allowUnfencedEvacuation: false, ipmitoolPath: '/usr/bin/ipmitool', attempts: 3 };
const IPMI = { interface: 'lanplus', cipherSuite: 17, timeoutS: 1, retries: 1 } as const;

function ipmiHost(address: string): HostConfig {
  return { name: 'compute-1', fence: { driver: 'ipmi', address, port: 623, username: 'admin', password: new Secret('pw-12345'), ipmi: IPMI } };
}

describe('createFenceDriver', () => {
  it('gives no driver for driver = none: such a host is never fenced, so never evacuated', () => {
    expect(createFenceDriver({ name: 'c', fence: { driver: 'none' } }, FENCING)).toBeNull();
  });

  it('builds each kind of driver', () => {
    expect(createFenceDriver({ name: 'c', fence: { driver: 'noop' } }, FENCING)?.kind).toBe('noop');
    const ipmi = createFenceDriver(ipmiHost('192.0.2.10'), FENCING);
    expect(ipmi?.kind).toBe('ipmi');
    expect(ipmi?.target).toBe('ipmi://192.0.2.10:623');
    const redfish = createFenceDriver({ name: 'c', fence: { driver: 'redfish', address: '192.0.2.11', port: 443, username: 'root', password: new Secret('x'), redfish: { scheme: 'https', auth: 'basic', insecure: false } } }, FENCING);
    expect(redfish?.target).toBe('https://192.0.2.11:443');
  });

  it('refuses a host name as an IPMI address, naming the host and the address', () => {
    let err: unknown;
    try { createFenceDriver(ipmiHost('bmc-1.example.com'), FENCING); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(CmphaError);
    expect((err as CmphaError).code).toBe('fence_config_invalid');
    expect((err as CmphaError).message).toMatch(/compute-1.*bmc-1\.example\.com.*not an IP literal/);
  });

  it('accepts an IPv6 literal', () => {
    expect(createFenceDriver(ipmiHost('2001:db8::10'), FENCING)?.target).toBe('ipmi://[2001:db8::10]:623');
  });

  it('says which host and file when the Redfish CA cannot be read', () => {
    const host: HostConfig = { name: 'compute-2', fence: { driver: 'redfish', address: '192.0.2.11', port: 443, username: 'root', password: new Secret('x'), redfish: { scheme: 'https', auth: 'basic', insecure: false, cacert: '/nonexistent/ca.pem' } } };
    expect(() => createFenceDriver(host, FENCING)).toThrow(/\[host:compute-2\] redfish_cacert: cannot read \/nonexistent\/ca\.pem/);
  });

  it('puts the password in ipmitool\'s environment, never in its arguments', async () => {
    const seen: { args: readonly string[]; env?: Record<string, string> }[] = [];
    const driver = createFenceDriver(ipmiHost('192.0.2.10'), FENCING, {
      runner: async (_file, args, opts) => {
        seen.push({ args, ...(opts.env ? { env: opts.env } : {}) });
        return { exitCode: 0, signal: null, stdout: 'Chassis Power is on\n', stderr: '', durationMs: 1 };
      },
    });
    expect(await driver!.powerStatus(AbortSignal.timeout(1000))).toBe('on');
    expect(seen[0]!.args.join(' ')).not.toContain('pw-12345');
    expect(seen[0]!.args).toEqual(['-I', 'lanplus', '-C', '17', '-H', '192.0.2.10', '-p', '623', '-U', 'admin', '-N', '1', '-R', '1', '-v', '-E', 'chassis', 'power', 'status']);
    expect(seen[0]!.env).toEqual({ IPMI_PASSWORD: 'pw-12345' });
  });
});
