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
}): SparePlan {
  const rejected: Array<{ host: string; reason: string }> = [];
  const cap = (c: SpareCandidate) => ({ v: c.freeVcpus ?? Number.POSITIVE_INFINITY, r: c.freeRamMb ?? Number.POSITIVE_INFINITY });
  const total = input.needs.reduce((a, n) => ({ v: a.v + n.vcpus, r: a.r + n.ramMb }), { v: 0, r: 0 });
  if (input.maxSpares <= 0 || input.candidates.length === 0 || input.needs.length === 0) {
    return { spares: [], unplaced: input.needs.map((n) => n.id), rejected };
  }
  const whole = input.candidates
    .filter((c) => fits(cap(c), { id: '', vcpus: total.v, ramMb: total.r }))
    .sort((a, b) => cap(a).v - cap(b).v || cap(a).r - cap(b).r || a.host.localeCompare(b.host));
  const best = whole[0];
  if (best) {
    return { spares: [{ host: best.host, serviceId: best.serviceId, enabled: best.enabled, serverIds: input.needs.map((n) => n.id) }], unplaced: [], rejected };
  }
  const ordered = [...input.candidates].sort((a, b) => cap(b).v - cap(a).v || cap(b).r - cap(a).r || a.host.localeCompare(b.host));
  let left = [...input.needs];
  const spares: Array<{ host: string; serviceId: string; enabled: boolean; serverIds: string[] }> = [];
  for (const c of ordered) {
    if (spares.length >= input.maxSpares || left.length === 0) break;
    const room = cap(c);
    const taken: string[] = [];
    const rest: Need[] = [];
    for (const n of left) {
      if (fits(room, n)) {
        room.v -= n.vcpus;
        room.r -= n.ramMb;
        taken.push(n.id);
      } else rest.push(n);
    }
    if (taken.length === 0) {
      rejected.push({ host: c.host, reason: `too small (free ${c.freeVcpus} vCPU, ${c.freeRamMb} MB)` });
      continue;
    }
    spares.push({ host: c.host, serviceId: c.serviceId, enabled: c.enabled, serverIds: taken });
    left = rest;
  }
  return { spares, unplaced: left.map((n) => n.id), rejected };
}
