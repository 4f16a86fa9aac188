import type { Secret } from '../../config/secret.js';
import type { DeviceHostKeys } from '../device.js';

/** What every BMC needs: where it is and who cmpha logs in as. */
export interface BmcSettings {
  /** An IP literal, or for ipmi a DNS name the controller resolves once at start (fencing/resolve-bmc.ts). */
  readonly address: string;
  readonly port: number;
  readonly username: string;
  readonly password: Secret;
}

/** address, username and a password are required; each missing one is reported against its key. */
export function bmcSettings(driver: string, host: DeviceHostKeys, defaultPort: number, report: (key: string, message: string) => void): BmcSettings | undefined {
  let ok = true;
  for (const key of ['address', 'username'] as const) {
    if (host[key] === undefined) { report(key, `is required for driver ${driver}`); ok = false; }
  }
  if (host.password === undefined) { report('password', `password or password_file is required for driver ${driver}`); ok = false; }
  if (!ok) return undefined;
  return { address: host.address!, port: host.port ?? defaultPort, username: host.username!, password: host.password! };
}

/** `address:port`, an IPv6 address in brackets. */
export function hostPort(address: string, port: number): string {
  return `${address.includes(':') ? `[${address}]` : address}:${port}`;
}

export function shownBmc(s: BmcSettings): Record<string, string | Secret> {
  return { address: s.address, port: String(s.port), username: s.username, password: s.password };
}
