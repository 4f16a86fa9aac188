import { lookup as dnsLookup } from 'node:dns/promises';
import { isIpLiteral } from '../config/fields.js';
import type { Config, HostConfig } from '../config/types.js';
import { errorMessage } from '../shared/errors.js';

/** Name → one IP address. Injected so tests never send a DNS query. */
export type BmcLookup = (name: string) => Promise<string>;

export const systemLookup: BmcLookup = async (name) => (await dnsLookup(name)).address;

export interface BmcResolution {
  /** Every host, IPMI BMC names replaced by their address; a host whose name did not resolve cannot be fenced. */
  readonly hosts: Readonly<Record<string, HostConfig>>;
  readonly resolved: readonly { readonly host: string; readonly name: string; readonly address: string }[];
  readonly problems: readonly { readonly host: string; readonly name: string; readonly message: string }[];
}

/**
 * ipmitool is only ever given IP literals, so a fence never waits on DNS while the network is in trouble:
 * BMC names are resolved here, once, at start (and by `doctor`). A name that does not resolve leaves its host
 * without fencing (so it is never evacuated) and is reported.
 */
export async function resolveBmcAddresses(hosts: Readonly<Record<string, HostConfig>>, lookup: BmcLookup = systemLookup): Promise<BmcResolution> {
  const out: Record<string, HostConfig> = { ...hosts };
  const resolved: { host: string; name: string; address: string }[] = [];
  const problems: { host: string; name: string; message: string }[] = [];
  await Promise.all(Object.values(hosts).map(async (h) => {
    if (h.fence.driver !== 'ipmi' || isIpLiteral(h.fence.address)) return;
    const name = h.fence.address;
    try {
      const address = await lookup(name);
      if (!isIpLiteral(address)) throw new Error(`resolved to "${address}", not an IP address`);
      out[h.name] = { ...h, fence: { ...h.fence, address } };
      resolved.push({ host: h.name, name, address });
    } catch (err) {
      out[h.name] = { ...h, fence: { driver: 'none' } };
      problems.push({ host: h.name, name, message: `[host:${h.name}] address: BMC name "${name}" does not resolve (${errorMessage(err)}): this host cannot be fenced, so it will not be evacuated` });
    }
  }));
  return { hosts: out, resolved, problems };
}

/** The config with BMC names resolved; each name that does not resolve is reported through `report`. */
export async function withResolvedBmcs(config: Config, report: { resolved(host: string, name: string, address: string): void; problem(host: string, name: string, message: string): void }, lookup?: BmcLookup): Promise<Config> {
  const r = await resolveBmcAddresses(config.hosts, lookup);
  for (const x of r.resolved) report.resolved(x.host, x.name, x.address);
  for (const p of r.problems) report.problem(p.host, p.name, p.message);
  return r.resolved.length === 0 && r.problems.length === 0 ? config : { ...config, hosts: r.hosts };
}
