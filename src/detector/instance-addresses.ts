import { isIpLiteral } from '../config/fields.js';
import type { NovaApi, Server } from '../openstack/types.js';
import type { ProbeResult } from './types.js';

export interface InstanceAddress {
  readonly ip: string;
  readonly server: string;
  readonly network: string;
}

/** The IPv4 addresses of `servers` on the named networks (floating ones included: they answer too). */
export function instanceAddresses(servers: readonly Server[], networks: readonly string[]): InstanceAddress[] {
  const wanted = new Set(networks);
  const out: InstanceAddress[] = [];
  const seen = new Set<string>();
  for (const s of servers) {
    for (const a of s.addresses) {
      if (a.version !== 4 || !wanted.has(a.network) || !isIpLiteral(a.addr) || seen.has(a.addr)) continue;
      seen.add(a.addr);
      out.push({ ip: a.addr, server: s.name || s.id, network: a.network });
    }
  }
  return out;
}

function phase(host: string, period: number): number {
  let h = 0;
  for (let i = 0; i < host.length; i++) h = (h * 31 + host.charCodeAt(i)) >>> 0;
  return h % period;
}

/**
 * Which instance addresses may testify by their silence: those that answered while their host was healthy.
 * A host's instances are probed soon after it is first seen (at most `newPerRound` new hosts a round, so a
 * controller starting on a large cloud does not list every server at once) and then once every `everyRounds`
 * rounds, each host at its own phase so that one round stays cheap.
 */
export class InstanceBaseline {
  private readonly lastAnswered = new Map<string, number>();
  private readonly baselined = new Set<string>();

  constructor(private readonly everyRounds = 30, private readonly newPerRound = 100) {}

  due(round: number, healthyHosts: readonly string[]): string[] {
    let fresh = 0;
    return healthyHosts.filter((h) => {
      if (!this.baselined.has(h)) return fresh++ < this.newPerRound;
      return (round + phase(h, this.everyRounds)) % this.everyRounds === 0;
    });
  }

  /** Results of probing a healthy host's instance addresses: answers join the baseline, silence leaves it. */
  record(host: string, addresses: readonly InstanceAddress[], results: ReadonlyMap<string, ProbeResult>, now: number): void {
    this.baselined.add(host);
    for (const a of addresses) {
      const r = results.get(a.ip);
      if (r === 'alive') this.lastAnswered.set(a.ip, now);
      else if (r === 'silent') this.lastAnswered.delete(a.ip);
    }
  }

  isBaseline(ip: string): boolean {
    return this.lastAnswered.has(ip);
  }

  /** When the address last answered while its host was healthy (epoch ms), or null. */
  lastAnsweredAt(ip: string): number | null {
    return this.lastAnswered.get(ip) ?? null;
  }
}

/** Lists servers per host through Nova; a failure is returned as text, never thrown. */
export async function listHostAddresses(
  nova: NovaApi, host: string, networks: readonly string[], signal?: AbortSignal,
): Promise<{ addresses: InstanceAddress[]; error?: string }> {
  try {
    const servers = await nova.listServersOnHost(host, { signal });
    return { addresses: instanceAddresses(servers, networks) };
  } catch (err) {
    return { addresses: [], error: err instanceof Error ? err.message : String(err) };
  }
}
