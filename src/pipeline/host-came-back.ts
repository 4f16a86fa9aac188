import type { StepContext } from './steps/context.js';
import { closeEarly } from './steps/finalize.js';

/**
 * An incident waiting for a fence whose host showed life again (it answered, or Nova's heartbeat moved): the
 * host was repaired, or never died, and nothing was forced down or evacuated. It closes `aborted` with a notice
 * that answers the "fence failed" page, and its host is free for a new incident when it really fails. Only an
 * incident still in `awaiting_fence` is closed: one a human confirmed meanwhile goes on. True when it closed here.
 */
export async function abortWaitingIncident(ctx: StepContext, seen: string): Promise<boolean> {
  const rec = await closeEarly(ctx, {
    status: 'aborted', from: 'awaiting_fence', code: 'host_came_back', event: 'incident-aborted', severity: 'warning',
    reason: `host came back before it was fenced (${seen}); nothing was forced down or evacuated, and the earlier "fence failed" page needs no action any more`,
  });
  return rec.status === 'aborted';
}
