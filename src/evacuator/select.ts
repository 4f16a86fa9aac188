import { EVACUABLE_STATES } from '../config/schema.js';
import type { EvacuationConfig } from '../config/types.js';
import { instanceOrder, type NewInstance } from '../incidents/types.js';
import type { Guest as Server, GuestRecovery } from '../compute/types.js';
import { SPECIAL_SPEC_KEYS } from './special-needs.js';
import { judgeServer, metadataPriority, type EvacuationPolicy, type HostGroupView, type PolicyVerdict } from './policy.js';

/** Metadata value → priority; anything that is not a number counts as 0. */
export function priorityOf(server: Pick<Server, 'metadata'>, key: string | undefined): number {
  return metadataPriority(server.metadata, key);
}

/** The evacuability policy of [evacuation] (a hand-built config without its keys: every server moves, one tier). */
export function policyOf(cfg: Pick<EvacuationConfig, 'policy' | 'policyDefault' | 'tiers'>): EvacuationPolicy {
  return { rules: cfg.policy ?? [], fallback: cfg.policyDefault ?? 'evacuate', tiers: cfg.tiers ?? [] };
}

/** What the policy is told of the servers of one host, beyond the servers themselves (each read once per host). */
export interface PolicyFacts {
  /** The failed host's aggregates; undefined when they could not be read. */
  readonly aggregates?: readonly HostGroupView[];
  /** Image id → properties; an image absent here: its properties are unknown. Undefined: images not read. */
  readonly images?: ReadonlyMap<string, Readonly<Record<string, string>>>;
}

/** The policy's verdict on one server. */
export function judgeGuest(server: Server, cfg: EvacuationConfig, facts: PolicyFacts = {}): PolicyVerdict {
  const image = server.imageId ? facts.images?.get(server.imageId) : undefined;
  return judgeServer({
    name: server.name, projectId: server.projectId, metadata: server.metadata,
    ...(server.flavor.extraSpecs ? { flavorExtraSpecs: server.flavor.extraSpecs } : {}),
    // A volume-backed server has no image: an image rule matches nothing rather than being unknown.
    ...(image ? { imageProperties: image } : server.imageId === null ? { imageProperties: {} } : {}),
    ...(facts.aggregates ? { aggregates: facts.aggregates } : {}),
  }, policyOf(cfg), cfg);
}

/**
 * Why the operator's policy leaves a server where it is, or undefined when it allows the move: its lasting state
 * (the state under any task; a server mid-hard-reboot is ACTIVE) must be one of `[evacuation] states` (the evacuability policy is judged apart).
 */
export function skipReason(server: Server, cfg: Pick<EvacuationConfig, 'states'>, lasting: string = server.status): string | undefined {
  const states = cfg.states.map((s) => s.toUpperCase());
  // REBUILD on a failed host is an evacuation under way (a recovery resumed after a crash or a lost record):
  // it is followed to its end like the others, never left out as "not ACTIVE".
  if (!states.includes(lasting.toUpperCase()) && server.status.toUpperCase() !== 'REBUILD') {
    return `status ${lasting}${lasting !== server.status ? ` (shown as ${server.status})` : ''} is not one of ${cfg.states.join(', ')}`;
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

/** A plain table for callers without a backend: ACTIVE and ERROR move as they are, SHUTOFF stays SHUTOFF. */
export function plainRecovery(s: Server): GuestRecovery {
  return { kind: 'move', lasting: s.status === 'REBUILD' ? 'ACTIVE' : s.status, expect: s.status === 'SHUTOFF' ? 'SHUTOFF' : 'ACTIVE' };
}

export function planInstances(
  servers: readonly Server[], source: string, cfg: EvacuationConfig, baseline: ReadonlyMap<string, number | undefined> = new Map(),
  facts: PolicyFacts = {},
  recoveryOf: (s: Server) => GuestRecovery = plainRecovery,
): NewInstance[] {
  return servers
    .map((s): NewInstance => {
      const plan = recoveryOf(s);
      const policy = skipReason(s, cfg, plan.lasting);
      // One the policy leaves is the operator's choice, not a failure: also when the cloud could not move it
      // either, if its state is one `[evacuation] states` could have listed (the operator chose to leave it). A
      // server the cloud cannot move in a state no policy can list (SHELVED, BUILD) is not recovered.
      const listable = (EVACUABLE_STATES as readonly string[]).includes(plan.lasting.toUpperCase());
      const left = plan.kind === 'leave' && !(listable && policy !== undefined) ? { by: 'cloud' as const, why: plan.why }
        : policy !== undefined ? { by: 'policy' as const, why: policy } : undefined;
      const verdict = judgeGuest(s, cfg, facts);
      const watch = s.addresses.filter((a) => baseline.has(a.addr))
        .map((a) => ({ ip: a.addr, ...(baseline.get(a.addr) !== undefined ? { lastAliveAt: baseline.get(a.addr)! } : {}) }));
      return {
        id: s.id,
        name: s.name,
        projectId: s.projectId,
        userId: s.userId,
        source,
        target: null,
        priority: verdict.priority,
        tier: verdict.tier,
        policyRule: verdict.decidedBy,
        ...(verdict.priorityFrom ? { priorityFrom: verdict.priorityFrom } : {}),
        flavor: {
          ...(s.flavor.vcpus !== undefined ? { vcpus: s.flavor.vcpus } : {}), ...(s.flavor.ramMb !== undefined ? { ramMb: s.flavor.ramMb } : {}),
          ...(specialSpecs(s.flavor.extraSpecs) ? { extraSpecs: specialSpecs(s.flavor.extraSpecs)! } : {}),
        },
        metadata: s.metadata,
        ...(watch.length > 0 ? { watch } : {}),
        was: { status: s.status, taskState: s.taskState, lasting: plan.lasting },
        ...(plan.kind === 'move' ? {
          recovery: {
            expect: plan.expect, ...(plan.reset ? { reset: plan.reset } : {}), ...(plan.restore ? { restore: plan.restore } : {}),
            ...(plan.caveat ? { caveat: plan.caveat } : {}),
          },
        } : {}),
        // The server's state is looked at first: a server that cannot be moved is not "left by policy".
        ...(left ? { state: 'skipped' as const, skipReason: left.why, leftBy: left.by }
          : !verdict.move ? { state: 'excluded' as const, skipReason: `left by policy: ${verdict.decidedBy}` } : {}),
      };
    })
    .sort(byPriority);
}

export const byPriority = instanceOrder;

/** The extra specs that ask for a special target (kept on the instance entry for the spare choice); undefined when none. */
function specialSpecs(specs: Readonly<Record<string, string>> | undefined): Record<string, string> | undefined {
  const kept = Object.entries(specs ?? {}).filter(([k]) => SPECIAL_SPEC_KEYS.includes(k) || k.startsWith('resources:'));
  return kept.length > 0 ? Object.fromEntries(kept) : undefined;
}
