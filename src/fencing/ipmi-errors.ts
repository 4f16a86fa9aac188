import { FenceCode, type FenceCodeValue } from './codes.js';

export interface IpmiFailure {
  readonly code: FenceCodeValue;
  readonly retryable: boolean;
  /** Why, in words an operator can act on. */
  readonly reason: string;
}

interface Rule {
  readonly match: RegExp;
  readonly failure: IpmiFailure;
}

// ipmitool prints the same last line, "Unable to establish IPMI v2 / RMCP+ session", for a wrong password, an
// unknown user, a cipher suite the BMC lacks and a BMC that never answers. Run with -v it says which one it was
// on the line before; those lines (ipmitool 1.8.19 against OpenIPMI's ipmi_sim) are what the rules match.
// Order matters: the first rule that matches wins, and authentication is checked before reachability.
const RULES: readonly Rule[] = [
  { match: /RAKP 2 HMAC is invalid/i,
    failure: { code: FenceCode.authFailed, retryable: false, reason: 'the BMC rejected the password' } },
  { match: /unauthorized name/i,
    failure: { code: FenceCode.authFailed, retryable: false, reason: 'the BMC does not know this user name' } },
  { match: /RAKP \d message indicates an error/i,
    failure: { code: FenceCode.authFailed, retryable: false, reason: 'the BMC refused the login' } },
  // IPMI v1.5 (`-I lan`) says only this when the password is wrong.
  { match: /Activate Session command failed|Activate Session error/i,
    failure: { code: FenceCode.authFailed, retryable: false, reason: 'the BMC refused the login (IPMI v1.5 session)' } },
  { match: /Insufficient privilege level/i,
    failure: { code: FenceCode.authFailed, retryable: false, reason: 'the BMC user may not control chassis power (needs OPERATOR or ADMINISTRATOR)' } },
  { match: /Unable to read password from environment/i,
    failure: { code: FenceCode.authFailed, retryable: false, reason: 'no BMC password was given' } },
  { match: /invalid (authentication|integrity|confidentiality) algorithm|Unable to Get Channel Cipher Suites|no matching cipher suite/i,
    failure: { code: FenceCode.error, retryable: false, reason: 'the BMC does not support the configured cipher suite (ipmi_cipher_suite)' } },
  // Known transient conditions, after Ironic's list of retryable ipmitool failures.
  { match: /insufficient resources for session/i,
    failure: { code: FenceCode.error, retryable: true, reason: 'the BMC has no free session slot' } },
  { match: /Node busy|BMC initialization in progress|Out of space/i,
    failure: { code: FenceCode.error, retryable: true, reason: 'the BMC is busy' } },
  { match: /\bTimeout\b|timed out/i,
    failure: { code: FenceCode.timeout, retryable: true, reason: 'the BMC did not answer in time' } },
  { match: /Get Auth Capabilities error|Error issuing Get Channel Authentication Capabilities|No response from remote controller|Unable to establish LAN session/i,
    failure: { code: FenceCode.unreachable, retryable: true, reason: 'no answer from the BMC' } },
  { match: /Address lookup for .* failed|Could not open socket/i,
    failure: { code: FenceCode.unreachable, retryable: true, reason: 'cannot open a connection to the BMC' } },
];

/**
 * Classifies a finished ipmitool run by its stderr. Returns the session- or BMC-level failure it recognises, or
 * undefined when none: the caller then reads stdout, where an answer it cannot parse is `unknown` (a status) or
 * a non-retryable `bmc_error` (a power request). Unknown errors are never retried: they are not known to be
 * transient.
 */
export function classifyIpmiFailure(run: { readonly exitCode: number | null; readonly stderr: string }): IpmiFailure | undefined {
  for (const rule of RULES) {
    if (rule.match.test(run.stderr)) return rule.failure;
  }
  if (run.exitCode === 0) return undefined;
  if (/Unable to establish IPMI v2 \/ RMCP\+ session/.test(run.stderr)) {
    return { code: FenceCode.error, retryable: false, reason: 'ipmitool could not open a session with the BMC' };
  }
  return undefined;
}

/** The last meaningful stderr lines, without ipmitool's chatter, for messages. */
export function stderrSummary(stderr: string, maxChars = 300): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^Loading IANA PEN Registry|^Running Get VSO Capabilities|^Invalid completion code received: Invalid command|^Discovered IPMB address|^Get HPM\.x Capabilities request failed/.test(l));
  const text = lines.join('; ');
  return text.length > maxChars ? `${text.slice(0, maxChars)}…` : text;
}
