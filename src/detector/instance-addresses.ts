import { isIpLiteral } from '../config/fields.js';
import type { ComputeBackend, Guest } from '../compute/types.js';
import type { ProbeResult } from './types.js';

export interface InstanceAddress {
  readonly ip: string;
  readonly server: string;
  readonly network: string;
}

/** The IPv4 addresses of `servers` on the named networks (floating ones included: they answer too). */
export function instanceAddresses(servers: readonly Guest[], networks: readonly string[]): InstanceAddress[] {
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
 * rounds, each host at its own phase so that one round stays cheap. A host where Nova reports a server changed
 * (booted, moved onto it, rebuilt, deleted) is due at once (at most `changedPerRound` such hosts a round), and
 * again each round while one of its addresses has never answered, up to `changedTries` looks: a guest takes a
 * while to answer after Nova calls it ACTIVE.
 */
export class InstanceBaseline {
  /** Per host, its listed addresses that answered while it was healthy, and when they last did. */
  private readonly answered = new Map<string, Map<string, number>>();
  /** The host whose listing last showed each baseline address (a moved server's address belongs to its new host). */
  private readonly hostOf = new Map<string, string>();
  private readonly baselined = new Set<string>();
  /** Hosts with a server change to look at, and how many looks remain. */
  private readonly changed = new Map<string, number>();
  /** Baseline addresses found silent on one look of a healthy host; a second silent look in a row drops them. */
  private readonly silentOnce = new Set<string>();

  constructor(
    private readonly everyRounds = 30, private readonly newPerRound = 100,
    private readonly changedPerRound = 100, private readonly changedTries = 6,
  ) {}

  due(round: number, healthyHosts: readonly string[]): string[] {
    let fresh = 0;
    let changed = 0;
    return healthyHosts.filter((h) => {
      if (!this.baselined.has(h)) return fresh++ < this.newPerRound;
      if ((round + phase(h, this.everyRounds)) % this.everyRounds === 0) return true;
      return this.changed.has(h) && changed++ < this.changedPerRound;
    });
  }

  /** Nova reports a server on `host` changed: look at the host's instances again soon. */
  serverChanged(host: string): void {
    this.changed.set(host, this.changedTries);
  }

  /**
   * Results of probing a healthy host's instance addresses: answers join the baseline, silence on two looks in a
   * row leaves it, and so does an address the host no longer lists (a deleted or moved server: Neutron hands freed addresses out
   * again, and their next owner must answer on its own).
   */
  record(host: string, addresses: readonly InstanceAddress[], results: ReadonlyMap<string, ProbeResult>, now: number): void {
    this.baselined.add(host);
    const before = this.answered.get(host);
    const after = new Map<string, number>();
    for (const a of addresses) {
      const r = results.get(a.ip);
      const kept = before?.get(a.ip);
      if (r === 'alive') {
        after.set(a.ip, now);
        this.silentOnce.delete(a.ip);
      } else if (r === 'silent' && kept !== undefined && !this.silentOnce.has(a.ip)) {
        // One silent look is not enough to drop it: a look that straddles the host's failure sees the management
        // address answer (healthy) and the instances already silent, and would leave the incident that follows
        // without this address as evidence or as a watch for the network verification.
        this.silentOnce.add(a.ip);
        after.set(a.ip, kept);
      } else if (r === 'silent') {
        this.drop(a.ip);
      } else if (kept !== undefined) {
        after.set(a.ip, kept);
      }
    }
    for (const ip of before?.keys() ?? []) if (!after.has(ip) && this.hostOf.get(ip) === host) this.hostOf.delete(ip);
    for (const ip of after.keys()) {
      if (this.hostOf.get(ip) !== host) this.drop(ip);
      this.hostOf.set(ip, host);
    }
    if (after.size > 0) this.answered.set(host, after);
    else this.answered.delete(host);

    const left = this.changed.get(host);
    if (left === undefined) return;
    if (left <= 1 || addresses.every((a) => after.has(a.ip))) this.changed.delete(host);
    else this.changed.set(host, left - 1);
  }

  private drop(ip: string): void {
    this.silentOnce.delete(ip);
    const owner = this.hostOf.get(ip);
    if (owner === undefined) return;
    this.answered.get(owner)?.delete(ip);
    this.hostOf.delete(ip);
  }

  isBaseline(ip: string): boolean {
    return this.hostOf.has(ip);
  }

  /** When the address last answered while its host was healthy (epoch ms), or null. */
  lastAnsweredAt(ip: string): number | null {
    const host = this.hostOf.get(ip);
    return (host === undefined ? undefined : this.answered.get(host)?.get(ip)) ?? null;
  }
}

/** Lists the guests on a host; a failure is returned as text, never thrown. */
export async function listHostAddresses(
  compute: Pick<ComputeBackend, 'guestsOn'>, host: string, networks: readonly string[], signal?: AbortSignal,
): Promise<{ addresses: InstanceAddress[]; error?: string }> {
  try {
    const servers = await compute.guestsOn(host, { signal });
    return { addresses: instanceAddresses(servers, networks) };
  } catch (err) {
    return { addresses: [], error: err instanceof Error ? err.message : String(err) };
  }
}
