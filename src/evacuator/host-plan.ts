import type { EvacuationConfig } from '../config/types.js';
import type { CallOptions, ComputeBackend, Guest, HostCapabilities } from '../compute/types.js';
import { planInstances, policyOf, type PolicyFacts } from './select.js';
import { hostOffers, specialNeedsOf } from './special-needs.js';
import { isSpareHost, planSpares, spareHostUnusable, type PlanGroup, type SpareCandidate } from './spare-plan.js';

/** One server of a host, as the recovery would treat it if that host failed now (`cmpha check --plan`). */
export interface PlannedServer {
  readonly host: string;
  readonly name: string;
  readonly id: string;
  readonly status: string;
  /** `move`, `left` (for its state), `excluded` (by the policy). */
  readonly plan: 'move' | 'left' | 'excluded';
  /** The policy rule or setting that decided, or why its state keeps it. */
  readonly why: string;
  readonly priority: number;
  readonly priorityFrom: string;
  readonly tier: number;
  /** The spare the plan names; `scheduler` when Nova's scheduler would choose; '' when it does not move. */
  readonly target: string;
  /** What it needs of its target beyond vCPU and RAM (dedicated CPUs, NUMA, PCI, vGPU); empty when nothing. */
  readonly needs: readonly string[];
  /** For a server with needs: which spare can host it and, for each that cannot (or may not), why. */
  readonly spares?: { readonly capable: readonly string[]; readonly not: ReadonlyArray<{ readonly host: string; readonly why: string }> };
}

/**
 * What every compute host's failure would do to its servers, each host judged as if it alone failed now: the
 * same inventory (state, then policy), the same spare plan (capacity, server groups) the recovery makes, without
 * claiming anything. Reads only.
 */
export async function planFleet(compute: ComputeBackend, cfg: EvacuationConfig, opts: CallOptions = {}): Promise<PlannedServer[]> {
  const hosts = await compute.hosts(opts);
  const spares = hosts.filter((h) => isSpareHost(h, cfg.spareHosts));
  const computes = hosts.filter((h) => !isSpareHost(h, cfg.spareHosts));
  const serversOf = new Map<string, Guest[]>();
  for (const h of computes) serversOf.set(h.name, await compute.guestsOn(h.name, opts));
  const where = new Map<string, string>();
  for (const [h, list] of serversOf) for (const s of list) where.set(s.id, h);
  // Servers on spares count for their groups' policies (a spare already holding a member).
  if (compute.guestGroups) for (const h of spares) for (const s of await compute.guestsOn(h.name, opts)) where.set(s.id, h.name);
  const rules = policyOf(cfg).rules;
  const groupsAll = compute.guestGroups ? await compute.guestGroups(opts) : [];
  const aggregates = rules.some((r) => r.source === 'aggregate') && compute.hostGroups ? await compute.hostGroups(opts) : undefined;
  const imageIds = [...new Set([...serversOf.values()].flat().map((s) => s.imageId).filter((i): i is string => typeof i === 'string' && i !== ''))];
  const images = rules.some((r) => r.source === 'image') && compute.imageProperties && imageIds.length > 0 ? await compute.imageProperties(imageIds, opts) : undefined;
  const usableSpares = spares.filter((s) => spareHostUnusable(s) === undefined);
  const capacity = await compute.capacity(usableSpares.map((s) => s.name), opts);
  const caps = compute.hostCapabilities && usableSpares.length > 0 ? await compute.hostCapabilities(usableSpares.map((s) => s.name), opts) : new Map<string, HostCapabilities>();
  const needsOf = (s: Guest) => specialNeedsOf(s, cfg.pciAliasResources ? { pciAliasResources: cfg.pciAliasResources } : {});
  const out: PlannedServer[] = [];
  for (const h of computes) {
    const facts: PolicyFacts = { ...(aggregates ? { aggregates: aggregates.filter((a) => a.hosts.includes(h.name)) } : {}), ...(images ? { images } : {}) };
    const servers = serversOf.get(h.name) ?? [];
    const entries = planInstances(servers, h.name, cfg, new Map(), facts);
    const pending = entries.filter((e) => e.state === undefined);
    const moving = new Set(pending.map((e) => e.id));
    const groups: PlanGroup[] = [];
    for (const g of groupsAll) {
      const members = g.members.filter((m) => moving.has(m));
      if (members.length === 0) continue;
      const elsewhere = new Map<string, number>();
      for (const m of g.members) {
        const at = where.get(m);
        if (moving.has(m) || !at || at === h.name) continue;
        elsewhere.set(at, (elsewhere.get(at) ?? 0) + 1);
      }
      groups.push({ name: g.name, policy: g.policy, ...(g.maxPerHost !== undefined ? { maxPerHost: g.maxPerHost } : {}), members, elsewhere });
    }
    const candidates: SpareCandidate[] = usableSpares.filter((s) => spareHostUnusable(s, { zone: h.zone }) === undefined).map((s) => {
      const c = capacity.get(s.name);
      return { host: s.name, serviceId: s.id, enabled: s.status === 'enabled', ...(c?.freeVcpus !== undefined ? { freeVcpus: c.freeVcpus, freeRamMb: c.freeRamMb } : {}) };
    });
    // A server with special needs only goes to a spare known to offer them (an unknown one is not counted on).
    const serverOf = new Map(servers.map((s) => [s.id, s]));
    const fitFor = new Map<string, { capable: string[]; not: Array<{ host: string; why: string }> }>();
    for (const e of pending) {
      const needs = needsOf(serverOf.get(e.id)!);
      if (needs.length === 0) continue;
      const f = { capable: [] as string[], not: [] as Array<{ host: string; why: string }> };
      for (const c of candidates) {
        const v = hostOffers(needs, caps.get(c.host));
        if (v.kind === 'yes') f.capable.push(c.host);
        else f.not.push({ host: c.host, why: `${v.kind === 'unknown' ? 'unknown: ' : ''}${v.why}` });
      }
      fitFor.set(e.id, f);
    }
    const plan = cfg.spareCount > 0
      ? planSpares({
        candidates, maxSpares: cfg.spareCount, groups,
        needs: pending.map((e) => ({ id: e.id, vcpus: e.flavor?.vcpus ?? 0, ramMb: e.flavor?.ramMb ?? 0, ...(fitFor.has(e.id) ? { onlyOn: new Set(fitFor.get(e.id)!.capable) } : {}) })),
      })
      : { spares: [], unplaced: pending.map((e) => e.id), rejected: [] };
    const targetOf = new Map<string, string>();
    for (const s of plan.spares) for (const id of s.serverIds) targetOf.set(id, s.host);
    const statusOf = new Map(servers.map((s) => [s.id, s.status]));
    for (const e of entries) {
      const kind = e.state === 'skipped' ? 'left' : e.state === 'excluded' ? 'excluded' : 'move';
      out.push({
        host: h.name, name: e.name, id: e.id, status: statusOf.get(e.id) ?? '', plan: kind,
        why: kind === 'left' ? e.skipReason ?? '' : e.policyRule ?? '', priority: e.priority, priorityFrom: e.priorityFrom ?? '',
        tier: e.tier ?? 1, target: kind === 'move' ? targetOf.get(e.id) ?? 'scheduler' : '',
        needs: needsOf(serverOf.get(e.id)!).map((n) => n.what),
        ...(fitFor.has(e.id) ? { spares: fitFor.get(e.id)! } : {}),
      });
    }
  }
  return out;
}
