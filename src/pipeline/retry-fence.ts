import type { IncidentRecord } from '../incidents/types.js';
import { CmphaError } from '../shared/errors.js';
import { note, type StepContext } from './steps/context.js';

export interface FenceRetry {
  /** Who asks (the operator's login, `cmpha` for the controller itself). */
  readonly by: string;
  /** Why, in a few words: what changed since the last attempt. */
  readonly reason: string;
}

/**
 * The fence of `host`'s incident waiting after every attempt failed is tried again: `cmpha fence retry HOST`, or
 * the controller when the host's fence settings changed in the config (a BMC password fixed). It leads back to
 * `fencing`, not past it: the same proof (power read back off, storage confirmed) is needed, and the fence step
 * reads the host's settings from the config as it is now. The caller submits the incident. Refused when no
 * incident of the host waits for a fence.
 */
export async function retryFence(
  ctx: Pick<StepContext, 'store' | 'logger' | 'clock'>,
  host: string,
  why: FenceRetry,
): Promise<IncidentRecord> {
  const id = await ctx.store.openIncidentFor(host);
  const cur = id ? await ctx.store.getRecord(id) : null;
  const refuse = (what: string) => new CmphaError('no_fence_awaited', `no incident of ${host} waits for a fence: ${what}`);
  if (!id || !cur) throw refuse('it has no open incident');
  if (cur.status !== 'awaiting_fence') throw refuse(`its incident ${id} is ${cur.status}`);
  // The failed attempt ended; no attempt is in flight, so the next one is not taken for an interrupted one.
  const { record, changed } = await ctx.store.transition(id, 'fence_retry', () => ({ fenceStartedAt: undefined }));
  if (!changed) throw refuse(`its incident ${id} is ${record.status}`);
  await note({ ...ctx, incidentId: id }, 'fence', 'warning', `fence retried by ${why.by}: ${why.reason}; ${host}'s fence settings are read again from the config`);
  ctx.logger.warn({ host, incident: id, by: why.by }, 'fence retried');
  return record;
}
