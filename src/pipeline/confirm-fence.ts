import type { IncidentRecord } from '../incidents/types.js';
import { CmphaError } from '../shared/errors.js';
import { note, type StepContext } from './steps/context.js';
import { notifyOnce } from './steps/notify.js';

export interface FenceConfirmation {
  /** Who confirms (the operator's login). */
  readonly user: string;
  /** What they checked, in their words. */
  readonly note: string;
}

/**
 * A human's word that `host` is off, for the incident that waits for it after every fence attempt failed.
 * Recorded in the record (who, when, what they said) and the timeline, and sent as a critical notice; the
 * incident moves to fenced and the recovery goes on from there once it is submitted again. Refused when no
 * incident of that host waits for a fence: a confirmation never overrides a BMC that answered.
 */
export async function confirmFence(
  ctx: Pick<StepContext, 'store' | 'notifier' | 'logger' | 'clock'>,
  host: string,
  who: FenceConfirmation,
): Promise<IncidentRecord> {
  const id = await ctx.store.openIncidentFor(host);
  const cur = id ? await ctx.store.getRecord(id) : null;
  const refuse = (why: string) => new CmphaError('no_fence_awaited', `no incident of ${host} waits for a fence confirmation: ${why}`);
  if (!id || !cur) throw refuse('it has no open incident');
  if (cur.status !== 'awaiting_fence') throw refuse(`its incident ${id} is ${cur.status}`);
  const at = ctx.clock.now();
  const { record, changed } = await ctx.store.transition(id, 'fence_confirmed', () => ({
    fence: { driver: 'operator', target: who.user, unfenced: false, alreadyOff: false, durationMs: 0, at, confirmedBy: { user: who.user, at, note: who.note } },
  }));
  if (!changed) throw refuse(`its incident ${id} is ${record.status}`);
  const inc = { ...ctx, incidentId: id };
  const message = `fence confirmed by ${who.user} at ${new Date(at).toISOString()}${who.note ? `: "${who.note}"` : ''}; `
    + `${host} is taken to be off on that word: it is forced down and its servers are evacuated`;
  await note(inc, 'fence', 'critical', message, { data: { confirmedBy: who.user } });
  await notifyOnce(inc, record, { type: 'fence-confirmed', severity: 'critical', summary: `${host}: ${message}` });
  return record;
}
