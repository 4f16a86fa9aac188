import { CmphaError } from '../shared/errors.js';
import type { IncidentStore } from './incident-store.js';
import type { IncidentRecord } from './types.js';
import type { Leadership } from '../leadership/leadership.js';

export interface FenceGuardContext {
  readonly incidentId: string;
  readonly store: IncidentStore;
  readonly leadership?: Leadership;
  readonly signal?: AbortSignal;
}

/**
 * The fence guarantee, in one place: nothing is forced down, disabled, enabled, added to an aggregate or
 * evacuated for an incident unless its record holds a fence (power read back off, or a human's confirmation),
 * and this controller still leads. Every mutating step calls it right before acting; it re-reads the record
 * each time, so a second run or a stale job cannot act on what it remembered.
 */
export async function assertFenced(ctx: FenceGuardContext, action: string): Promise<IncidentRecord> {
  const rec = await ctx.store.require(ctx.incidentId);
  if (!rec.fence) {
    throw new CmphaError('not_fenced',
      `refusing to ${action}: host ${rec.host} of incident ${rec.id} has no fence record (its power never read back off and no operator confirmed it)`,
      { context: { incidentId: rec.id, host: rec.host, status: rec.status } });
  }
  await ctx.leadership?.assertLeading(ctx.signal);
  return rec;
}
