import type { IncidentRecord } from '../incidents/types.js';
import { NOVA_NAMES, type CloudNames, type ComputeHost } from '../compute/types.js';
import { CmphaError } from '../shared/errors.js';
import { note, type StepContext } from './steps/context.js';
import { notifyOnce } from './steps/notify.js';

export interface FenceConfirmation {
  /** Who confirms (the operator's login). */
  readonly user: string;
  /** What they checked, in their words. */
  readonly note: string;
  /** Confirm even though the host showed life since its incident opened (the operator checked it is off now). */
  readonly force?: boolean;
}

/**
 * A human's word that `host` is off, for the incident that waits for it after every fence attempt failed.
 * Recorded in the record (who, when, what they said) and the timeline, and sent as a critical notice; the
 * incident moves to fenced and the recovery goes on from there once it is submitted again. Refused when no
 * incident of that host waits for a fence: a confirmation never overrides a BMC that answered. Refused too,
 * unless forced, when the host showed life since the incident opened (the detector's record, or `lookNow`, a
 * fresh look the caller makes): the evidence the incident was opened on is stale, and the confirmation would
 * force down and evacuate a host that was running a moment ago.
 */
export async function confirmFence(
  ctx: Pick<StepContext, 'store' | 'notifier' | 'logger' | 'clock'>,
  host: string,
  who: FenceConfirmation,
  lookNow?: (rec: IncidentRecord) => Promise<string | null>,
): Promise<IncidentRecord> {
  const id = await ctx.store.openIncidentFor(host);
  const cur = id ? await ctx.store.getRecord(id) : null;
  const refuse = (why: string) => new CmphaError('no_fence_awaited', `no incident of ${host} waits for a fence confirmation: ${why}`);
  if (!id || !cur) throw refuse('it has no open incident');
  if (cur.status !== 'awaiting_fence') throw refuse(`its incident ${id} is ${cur.status}`);
  const life = [
    cur.lifeSeen ? `${cur.lifeSeen.what} (seen ${new Date(cur.lifeSeen.at).toISOString()})` : null,
    lookNow ? await lookNow(cur) : null,
  ].filter((x): x is string => x !== null).join('; ');
  if (life && !who.force) {
    throw new CmphaError('host_showed_life',
      `${host} showed life since its incident ${id} opened: ${life}. It may be running: confirming would force it down and evacuate `
      + 'its servers on stale evidence. Make sure it is off now, then confirm again with --force', { context: { incidentId: id } });
  }
  const at = ctx.clock.now();
  const { record, changed } = await ctx.store.transition(id, 'fence_confirmed', () => ({
    fence: { driver: 'operator', target: who.user, unfenced: false, alreadyOff: false, durationMs: 0, at, confirmedBy: { user: who.user, at, note: who.note } },
  }));
  if (!changed) throw refuse(`its incident ${id} is ${record.status}`);
  const inc = { ...ctx, incidentId: id };
  const message = `fence confirmed by ${who.user} at ${new Date(at).toISOString()}${who.note ? `: "${who.note}"` : ''}; `
    + `${life ? `forced although the host showed life since the incident opened (${life}); ` : ''}`
    + `${host} is taken to be off on that word: it is forced down and its servers are evacuated`;
  await note(inc, 'fence', 'critical', message, { data: { confirmedBy: who.user, ...(life ? { forcedOver: life } : {}) } });
  await notifyOnce(inc, record, { type: 'fence-confirmed', severity: 'critical', summary: `${host}: ${message}` });
  return record;
}

/**
 * Whether Nova's heartbeat moved since the incident was opened, read without cmpha's clock: the service's
 * updated_at now against the one in the evidence the incident was opened on (Nova's clock against itself), with
 * no admin change (status, disabled_reason, forced_down) beside it. Null when it did not, or cannot be told.
 */
export function heartbeatSinceOpened(rec: IncidentRecord, service: ComputeHost | undefined, names: CloudNames = NOVA_NAMES): string | null {
  const nova = (rec.evidence as { nova?: { updatedAt?: unknown; status?: unknown; forcedDown?: unknown; disabledReason?: unknown } } | null)?.nova;
  if (!service?.heartbeatAt || !nova || typeof nova.updatedAt !== 'string') return null;
  const sameAdmin = nova.status === service.status && nova.forcedDown === service.isolated && (nova.disabledReason ?? null) === (service.reason ?? null);
  const then = Date.parse(nova.updatedAt);
  if (!sameAdmin || Number.isNaN(then) || service.heartbeatAt.getTime() <= then) return null;
  return `${names.cloud}'s heartbeat moved since the incident opened (updated_at ${nova.updatedAt} then, ${service.heartbeatAt.toISOString()} now)`;
}
