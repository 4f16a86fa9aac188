import type { ComputeHost } from '../compute/types.js';

export interface SpareCandidate {
  readonly host: string;
  readonly serviceId: string;
  readonly zone?: string;
  readonly enabled: boolean;
  /** Undefined when the cloud gives no capacity figures: assumed to fit. */
  readonly freeVcpus?: number;
  readonly freeRamMb?: number;
}

export interface Need {
  readonly id: string;
  readonly vcpus: number;
  readonly ramMb: number;
  /** Only these spares can host it (special needs: dedicated CPUs, NUMA, PCI, vGPU); undefined: any. */
  readonly onlyOn?: ReadonlySet<string>;
}

/**
 * A server group whose members this plan moves (Nova: a server group), with where its other members run now.
 * The plan keeps its policy: anti-affinity (and soft-anti-affinity) at most `maxPerHost` (default 1) members per
 * host; affinity (and soft-affinity) every member on one host. A member the plan cannot place within its group's
 * policy is left to the scheduler (no target), whose own filters keep the hard policies and whose weighers the soft ones.
 */
export interface PlanGroup {
  readonly name: string;
  readonly policy: 'affinity' | 'anti-affinity' | 'soft-affinity' | 'soft-anti-affinity';
  readonly maxPerHost?: number;
  /** Ids of the needs in this plan that are its members. */
  readonly members: readonly string[];
  /** Host → how many of its other members (not moved by this plan) run there. */
  readonly elsewhere: ReadonlyMap<string, number>;
}

/** Whether putting `id` on `host` keeps its group's policy, with `assigned` (need id → host) placed so far. */
export function groupAllows(groupOf: ReadonlyMap<string, PlanGroup>, id: string, host: string, assigned: ReadonlyMap<string, string>): boolean {
  const g = groupOf.get(id);
  if (!g) return true;
  const mates = g.members.filter((m) => m !== id && assigned.has(m)).map((m) => assigned.get(m)!);
  if (g.policy === 'anti-affinity' || g.policy === 'soft-anti-affinity') {
    return (g.elsewhere.get(host) ?? 0) + mates.filter((h) => h === host).length < (g.maxPerHost ?? 1);
  }
  const hosts = new Set([...g.elsewhere.keys(), ...mates]);
  return hosts.size === 0 || (hosts.size === 1 && hosts.has(host));
}

export interface SparePlan {
  readonly spares: ReadonlyArray<{ readonly host: string; readonly serviceId: string; readonly enabled: boolean; readonly serverIds: readonly string[] }>;
  /** Servers no chosen spare can take: the scheduler picks their hosts. */
  readonly unplaced: readonly string[];
  /** Reserved hosts not used, and why (for the timeline). */
  readonly rejected: ReadonlyArray<{ readonly host: string; readonly reason: string }>;
}

/** A reserved host: listed in spare_hosts, or disabled with cmpha's spare mark (spare_reason_prefix). */
export function isSpareHost(h: Pick<ComputeHost, 'name' | 'status' | 'marker'>, spareHosts: readonly string[]): boolean {
  return spareHosts.includes(h.name) || (h.status === 'disabled' && h.marker.spare);
}

/**
 * Why a reserved spare cannot take this incident's servers (the pipeline passes it over, `cmpha doctor` warns),
 * or undefined when it can: it must be up and not isolated, in the failed host's zone when both have one,
 * and not claimed by another incident.
 */
export function spareHostUnusable(
  h: Pick<ComputeHost, 'state' | 'isolated' | 'zone'>,
  opts: { readonly zone?: string | undefined; readonly claimedBy?: string | null; readonly incidentId?: string } = {},
): string | undefined {
  if (h.state !== 'up' || h.isolated) return 'not up';
  if (opts.zone && h.zone && h.zone !== opts.zone) return `in zone ${h.zone}, not ${opts.zone}`;
  if (opts.claimedBy && opts.claimedBy !== opts.incidentId) return `already taken by incident ${opts.claimedBy}`;
  return undefined;
}

function fits(c: { v: number; r: number }, n: Need): boolean {
  return n.vcpus <= c.v && n.ramMb <= c.r;
}

/**
 * Chooses spares for `needs` (already in priority order). A single spare that takes everything wins,
 * the tightest such one first so bigger spares stay free for the next failure. Otherwise spares are
 * filled in turn, largest first, highest priority servers first, up to `maxSpares`.
 */
export function planSpares(input: {
  readonly candidates: readonly SpareCandidate[];
  readonly needs: readonly Need[];
  readonly maxSpares: number;
  /** Server groups of the needs: their policies are kept. */
  readonly groups?: readonly PlanGroup[];
}): SparePlan {
  const rejected: Array<{ host: string; reason: string }> = [];
  const groupOf = new Map<string, PlanGroup>();
  for (const g of input.groups ?? []) for (const m of g.members) groupOf.set(m, g);
  const keeps = (id: string, host: string, assigned: ReadonlyMap<string, string>) => groupAllows(groupOf, id, host, assigned);
  const cap = (c: SpareCandidate) => ({ v: c.freeVcpus ?? Number.POSITIVE_INFINITY, r: c.freeRamMb ?? Number.POSITIVE_INFINITY });
  const total = input.needs.reduce((a, n) => ({ v: a.v + n.vcpus, r: a.r + n.ramMb }), { v: 0, r: 0 });
  if (input.maxSpares <= 0 || input.candidates.length === 0 || input.needs.length === 0) {
    return { spares: [], unplaced: input.needs.map((n) => n.id), rejected };
  }
  const allOn = (host: string) => {
    const assigned = new Map<string, string>();
    for (const n of input.needs) {
      if (!keeps(n.id, host, assigned) || (n.onlyOn && !n.onlyOn.has(host))) return false;
      assigned.set(n.id, host);
    }
    return true;
  };
  const whole = input.candidates
    .filter((c) => fits(cap(c), { id: '', vcpus: total.v, ramMb: total.r }) && allOn(c.host))
    .sort((a, b) => cap(a).v - cap(b).v || cap(a).r - cap(b).r || a.host.localeCompare(b.host));
  const best = whole[0];
  if (best) {
    return { spares: [{ host: best.host, serviceId: best.serviceId, enabled: best.enabled, serverIds: input.needs.map((n) => n.id) }], unplaced: [], rejected };
  }
  const ordered = [...input.candidates].sort((a, b) => cap(b).v - cap(a).v || cap(b).r - cap(a).r || a.host.localeCompare(b.host));
  let left = [...input.needs];
  const spares: Array<{ host: string; serviceId: string; enabled: boolean; serverIds: string[] }> = [];
  const assigned = new Map<string, string>();
  for (const c of ordered) {
    if (spares.length >= input.maxSpares || left.length === 0) break;
    const room = cap(c);
    const taken: string[] = [];
    const rest: Need[] = [];
    let heldByGroup = 0;
    for (const n of left) {
      if (n.onlyOn && !n.onlyOn.has(c.host)) {
        rest.push(n);
      } else if (!keeps(n.id, c.host, assigned)) {
        heldByGroup++;
        rest.push(n);
      } else if (fits(room, n)) {
        room.v -= n.vcpus;
        room.r -= n.ramMb;
        taken.push(n.id);
        assigned.set(n.id, c.host);
      } else rest.push(n);
    }
    if (taken.length === 0) {
      rejected.push({ host: c.host, reason: heldByGroup === left.length ? 'would break the server groups\' policies' : `too small (free ${c.freeVcpus} vCPU, ${c.freeRamMb} MB)` });
      left = rest;
      continue;
    }
    spares.push({ host: c.host, serviceId: c.serviceId, enabled: c.enabled, serverIds: taken });
    left = rest;
  }
  return { spares, unplaced: left.map((n) => n.id), rejected };
}
