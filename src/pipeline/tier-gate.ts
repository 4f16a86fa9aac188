import { isFinalInstanceState, type InstanceEntry } from '../incidents/types.js';
import { HeldBack } from './held-back.js';
import type { StepContext } from './steps/context.js';

/**
 * The policy's gate between tiers (`[evacuation] tiers`): a server of tier N is not evacuated before every
 * server of tiers 1..N-1 of its incident is settled (verified, or final in any other way). A tier whose servers
 * failed still opens the gate, with a critical note: leaving the rest on a dead host would help nobody, and
 * each server's own move is bounded (verify_timeout, network_timeout), so the wait is bounded too.
 *
 * A held server gives its evacuation slot back while it waits (the queue delays its job; it uses up no
 * attempt), so a tier that waits can never starve the tier it waits for.
 */
export class TierWaiting extends HeldBack {
  constructor(serverId: string, waitMs: number, why: string) {
    super('tier_waiting', serverId, waitMs, why);
  }
}

export function isTierWaiting(err: unknown): err is TierWaiting {
  return err instanceof TierWaiting;
}

/** Servers of earlier tiers not settled yet; empty when the gate of `entry`'s tier is open. */
export function holdingBack(entry: Pick<InstanceEntry, 'tier'>, all: readonly InstanceEntry[]): InstanceEntry[] {
  const tier = entry.tier ?? 1;
  return all.filter((e) => (e.tier ?? 1) < tier && !isFinalInstanceState(e.state));
}

/**
 * Throws TierWaiting while the gate of the server's tier is held; notes once per tier when it is held and when it
 * opens (with the failures of the tiers before it).
 */
export async function passTierGate(ctx: StepContext, serverId: string): Promise<void> {
  const all = await ctx.store.listInstances(ctx.incidentId);
  const entry = all.find((e) => e.id === serverId);
  const tier = entry?.tier ?? 1;
  if (!entry || tier <= 1 || isFinalInstanceState(entry.state) || entry.state !== 'pending' || entry.attempts > 0) return;
  const held = holdingBack(entry, all);
  const key = String(tier);
  if (held.length > 0) {
    await ctx.store.update(ctx.incidentId, (r) => (r.gates?.[key] ? undefined : { ...r, gates: { ...r.gates, [key]: 'held' } }), undefined, {
      timeline: [{ step: 'evacuate', level: 'info', message: `tier ${tier} waits until tier${tier > 2 ? `s 1-${tier - 1} are` : ' 1 is'} settled (${held.length} server(s): ${names(held)})` }],
    });
    throw new TierWaiting(serverId, ctx.evacuation.verifyPollIntervalMs, `${entry.name} (tier ${tier}) waits for ${held.length} server(s) of earlier tiers`);
  }
  const earlier = all.filter((e) => (e.tier ?? 1) < tier);
  const bad = earlier.filter((e) => e.state === 'failed' || e.state === 'degraded');
  await ctx.store.update(ctx.incidentId, (r) => (r.gates?.[key] === 'open' ? undefined : { ...r, gates: { ...r.gates, [key]: 'open' } }), undefined, {
    timeline: [bad.length > 0
      ? { step: 'evacuate', level: 'critical', message: `tier ${tier} starts although ${bad.length} server(s) of earlier tiers did not recover (${names(bad)})` }
      : { step: 'evacuate', level: 'info', message: `tier ${tier} starts: every server of earlier tiers is settled` }],
  });
}

function names(list: readonly InstanceEntry[]): string {
  return list.slice(0, 5).map((e) => e.name).join(', ') + (list.length > 5 ? ', ...' : '');
}
