import type { EvacuationConfig } from '../config/types.js';
import type { NewInstance } from '../incidents/types.js';
import type { Guest as Server } from '../compute/types.js';

/** Metadata value → priority; anything that is not a number counts as 0. */
export function priorityOf(server: Pick<Server, 'metadata'>, key: string | undefined): number {
  if (!key) return 0;
  const raw = server.metadata[key];
  if (raw === undefined) return 0;
  const n = Number(raw.trim());
  return Number.isFinite(n) ? n : 0;
}

/** Why a server is left where it is, or undefined when it is to be evacuated. */
export function skipReason(server: Server, cfg: Pick<EvacuationConfig, 'states' | 'requireMetadata'>): string | undefined {
  const states = cfg.states.map((s) => s.toUpperCase());
  // REBUILD on a failed host is an evacuation under way (a recovery resumed after a crash or a lost record):
  // it is followed to its end like the others, never left out as "not ACTIVE".
  if (!states.includes(server.status.toUpperCase()) && server.status.toUpperCase() !== 'REBUILD') {
    return `status ${server.status} is not one of ${cfg.states.join(', ')}`;
  }
  const req = cfg.requireMetadata;
  if (req && server.metadata[req.key] !== req.value) {
    return `metadata ${req.key}=${req.value} not set`;
  }
  return undefined;
}

/** Instance entries for every server on the failed host, highest priority first (ties: by name, then id). */
/**
 * The addresses that answered while the host was healthy, from the detector's evidence (stored as opaque JSON
 * on the incident): `instances.addresses[]` with `baseline` true. Anything else in the evidence is ignored.
 */
export function baselineAddresses(evidence: unknown): Map<string, number | undefined> {
  const out = new Map<string, number | undefined>();
  const list = (evidence as { instances?: { addresses?: unknown } } | null)?.instances?.addresses;
  if (!Array.isArray(list)) return out;
  for (const a of list as Array<{ ip?: unknown; baseline?: unknown; lastAnsweredAt?: unknown } | null>) {
    if (typeof a?.ip !== 'string' || a.baseline !== true) continue;
    out.set(a.ip, typeof a.lastAnsweredAt === 'number' ? a.lastAnsweredAt : undefined);
  }
  return out;
}

export function planInstances(
  servers: readonly Server[], source: string, cfg: EvacuationConfig, baseline: ReadonlyMap<string, number | undefined> = new Map(),
): NewInstance[] {
  return servers
    .map((s): NewInstance => {
      const reason = skipReason(s, cfg);
      const watch = s.addresses.filter((a) => baseline.has(a.addr))
        .map((a) => ({ ip: a.addr, ...(baseline.get(a.addr) !== undefined ? { lastAliveAt: baseline.get(a.addr)! } : {}) }));
      return {
        id: s.id,
        name: s.name,
        projectId: s.projectId,
        userId: s.userId,
        source,
        target: null,
        priority: priorityOf(s, cfg.priorityMetadataKey),
        flavor: { ...(s.flavor.vcpus !== undefined ? { vcpus: s.flavor.vcpus } : {}), ...(s.flavor.ramMb !== undefined ? { ramMb: s.flavor.ramMb } : {}) },
        metadata: s.metadata,
        ...(watch.length > 0 ? { watch } : {}),
        ...(reason ? { state: 'skipped' as const, skipReason: reason } : {}),
      };
    })
    .sort(byPriority);
}

export function byPriority(a: Pick<NewInstance, 'priority' | 'name' | 'id'>, b: Pick<NewInstance, 'priority' | 'name' | 'id'>): number {
  return b.priority - a.priority || a.name.localeCompare(b.name) || a.id.localeCompare(b.id);
}
