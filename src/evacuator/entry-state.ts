import type { InstanceEntry } from '../incidents/types.js';
import { isFinalInstanceState } from '../incidents/types.js';
import type { StepContext } from '../pipeline/steps/context.js';

/** Writes `patch` onto a server's entry unless the entry is already final (a concurrent run settled it first). */
export function finishEntry(ctx: Pick<StepContext, 'store' | 'incidentId'>, serverId: string, patch: Partial<InstanceEntry>): Promise<InstanceEntry> {
  return ctx.store.updateInstance(ctx.incidentId, serverId, (e) => (isFinalInstanceState(e.state) ? undefined : { ...e, ...patch }));
}

/**
 * Nova's part of the evacuation is done: the server runs ACTIVE on its new host, recorded there (`activeAt`,
 * `target`); its network is checked next, outside the evacuation slot.
 */
export function isActiveElsewhere(entry: InstanceEntry): boolean {
  return entry.state === 'evacuated' && entry.activeAt !== undefined && entry.target !== null;
}
