import { describe, expect, it } from 'vitest';
import { classifyIpmiFailure, stderrSummary } from '../../../src/fencing/ipmi-errors.js';

// stderr of `ipmitool -v` 1.8.19 as captured against ipmi_sim on this machine, one per failure.
const CAPTURED = {
  wrongPassword: 'Loading IANA PEN Registry...\n> RAKP 2 HMAC is invalid\nError: Unable to establish IPMI v2 / RMCP+ session\n',
  unknownUser: 'Loading IANA PEN Registry...\nRAKP 2 message indicates an error : unauthorized name\nError: Unable to establish IPMI v2 / RMCP+ session\n',
  unreachable: 'Loading IANA PEN Registry...\nGet Auth Capabilities error\nError issuing Get Channel Authentication Capabilities request\nError: Unable to establish IPMI v2 / RMCP+ session\n',
  unreachableLan: 'Error: Unable to establish LAN session\nError: Unable to establish IPMI v1.5 / RMCP session\n',
  wrongPasswordLan: 'Activate Session command failed\nError: Unable to establish LAN session\nError: Unable to establish IPMI v1.5 / RMCP session\n',
  cipher17: 'Loading IANA PEN Registry...\nError in open session response message : invalid authentication algorithm\n\nError: Unable to establish IPMI v2 / RMCP+ session\n',
  privilege: 'Get HPM.x Capabilities request failed, compcode = d4\nSet Chassis Power Control to Down/Off failed: Insufficient privilege level\n',
  noPassword: 'Unable to read password from environment\nPassword: Error: Unable to establish IPMI v2 / RMCP+ session\n',
  garbage: 'Get Chassis Power Status failed: Unspecified error\n',
};

describe('classifyIpmiFailure', () => {
  it.each([
    ['wrongPassword', 'bmc_auth_failed', false],
    ['unknownUser', 'bmc_auth_failed', false],
    ['wrongPasswordLan', 'bmc_auth_failed', false],
    ['privilege', 'bmc_auth_failed', false],
    ['noPassword', 'bmc_auth_failed', false],
    ['unreachable', 'bmc_unreachable', true],
    ['unreachableLan', 'bmc_unreachable', true],
    ['cipher17', 'bmc_error', false],
  ] as const)('%s → %s (retryable: %s)', (which, code, retryable) => {
    expect(classifyIpmiFailure({ exitCode: 1, stderr: CAPTURED[which] })).toMatchObject({ code, retryable });
  });

  it('does not mistake a bad password for an unreachable BMC though both end in the same line', () => {
    const a = classifyIpmiFailure({ exitCode: 1, stderr: CAPTURED.wrongPassword });
    const b = classifyIpmiFailure({ exitCode: 1, stderr: CAPTURED.unreachable });
    expect(a?.code).not.toBe(b?.code);
  });

  it.each([
    ['Set Chassis Power Control to Down/Off failed: Node busy', 'bmc_error'],
    ['Get Chassis Power Status failed: Timeout', 'bmc_timeout'],
    ['Error: insufficient resources for session', 'bmc_error'],
    ['BMC initialization in progress', 'bmc_error'],
  ])('retries the known transient failure %j', (stderr, code) => {
    expect(classifyIpmiFailure({ exitCode: 1, stderr })).toEqual(expect.objectContaining({ code, retryable: true }));
  });

  it('leaves an answer it does not know to the caller (a status becomes unknown), and never retries it', () => {
    expect(classifyIpmiFailure({ exitCode: 1, stderr: CAPTURED.garbage })).toBeUndefined();
    expect(classifyIpmiFailure({ exitCode: 0, stderr: '' })).toBeUndefined();
  });

  it('does not retry a session failure it cannot explain', () => {
    expect(classifyIpmiFailure({ exitCode: 1, stderr: 'Error: Unable to establish IPMI v2 / RMCP+ session\n' })).toMatchObject({ code: 'bmc_error', retryable: false });
  });

  it('ignores the chatter of a successful -v run', () => {
    const chatter = 'Loading IANA PEN Registry...\nRunning Get VSO Capabilities my_addr 0x20, transit 0, target 0x20\nInvalid completion code received: Invalid command\nDiscovered IPMB address 0x0\n';
    expect(classifyIpmiFailure({ exitCode: 0, stderr: chatter })).toBeUndefined();
    expect(stderrSummary(chatter)).toBe('');
  });
});

describe('stderrSummary', () => {
  it('keeps the lines that explain the failure', () => {
    expect(stderrSummary(CAPTURED.wrongPassword)).toBe('> RAKP 2 HMAC is invalid; Error: Unable to establish IPMI v2 / RMCP+ session');
  });
  it('cuts long output', () => {
    expect(stderrSummary('x'.repeat(1000), 50)).toHaveLength(51);
  });
});
