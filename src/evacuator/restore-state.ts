import { assertFenced } from '../incidents/fence-guard.js';
import { unlessSettled } from '../incidents/instance-transitions.js';
import type { IncidentRecord, InstanceEntry } from '../incidents/types.js';
import { formatDuration } from '../shared/duration.js';
import { errorMessage, isRetryable } from '../shared/errors.js';
import { note, serverOutcome, type ServerOutcome, type StepContext } from '../pipeline/steps/context.js';

/**
 * A moved server that had a state other than running gets it back and is verified in it: a stopped server is
 * SHUTOFF already (Nova keeps it stopped through the move), a reset one (paused, suspended, or stopped with a
 * stuck task) arrives ACTIVE and is stopped, paused or suspended once, recorded before the request and behind
 * the fence guard. Verified when the cloud shows the expected status on the new host; degraded (moved, not in
 * its state) when it does not within verify_timeout. Its network is not probed: such a server answers nothing.
 */
export async function restoreStateStep(ctx: StepContext, incident: IncidentRecord, entry: InstanceEntry): Promise<ServerOutcome> {
  const r = entry.recovery!;
  const host = entry.target!;
  const restore = ctx.compute.restore;
  let e = entry;
  if (r.restore !== undefined && e.restoreRequestedAt === undefined) {
    if (!restore) return settle(ctx, e, 'state_not_restored', `moved to ${host}, but this cloud cannot ${r.restore} it: it runs`);
    await assertFenced(ctx, `${r.restore} ${e.name}`);
    const at = ctx.clock.now();
    e = await ctx.store.updateInstance(incident.id, e.id, 'restore_requested', (x) => (x.state !== 'evacuated' || x.restoreRequestedAt !== undefined ? undefined : { restoreRequestedAt: at }));
    if (e.restoreRequestedAt === at) {
      await note(ctx, 'verify', 'info', `${e.name}: was ${e.was?.status ?? r.expect}; asking for ${r.restore} on ${host}`, { serverId: e.id });
      try {
        await restore(e.id, r.restore, { signal: ctx.signal });
      } catch (err) {
        if (isRetryable(err) || ctx.signal?.aborted) throw err;
        return settle(ctx, e, 'state_not_restored', `moved to ${host}, but ${r.restore} was refused: ${errorMessage(err)}`);
      }
    }
  }
  const deadline = (e.restoreRequestedAt ?? e.activeAt ?? ctx.clock.now()) + ctx.evacuation.verifyTimeoutMs;
  let last = 'not read yet';
  for (;;) {
    const g = await ctx.compute.guest(e.id, { signal: ctx.signal });
    if (g === null) return settle(ctx, e, 'deleted', 'deleted during the incident');
    if (g.host === host && g.status === r.expect && g.taskState === null) {
      const now = ctx.clock.now();
      const done = await ctx.store.updateInstance(incident.id, e.id, 'state_verified', unlessSettled({ verifiedAt: now, finishedAt: now, error: undefined }));
      ctx.metrics?.evacuations?.inc({ result: 'ok' });
      await note(ctx, 'verify', 'info', `${e.name} is ${r.expect} on ${host}, as it was${r.caveat ? ` (${r.caveat})` : ''}`, { serverId: e.id });
      return serverOutcome(done);
    }
    last = `${g.status}${g.taskState ? ` (task ${g.taskState})` : ''} on ${g.host ?? 'no host'}`;
    if (ctx.clock.now() >= deadline) {
      return settle(ctx, e, 'state_not_restored', `moved to ${host}, but not ${r.expect} within ${formatDuration(ctx.evacuation.verifyTimeoutMs)}: ${last}`);
    }
    await ctx.sleep(ctx.evacuation.verifyPollIntervalMs, ctx.signal);
  }
}

async function settle(ctx: StepContext, e: InstanceEntry, event: 'state_not_restored' | 'deleted', why: string): Promise<ServerOutcome> {
  if (event === 'state_not_restored') ctx.metrics?.evacuations?.inc({ result: 'degraded' });
  await note(ctx, 'verify', event === 'deleted' ? 'info' : 'critical', `${e.name}: ${why}`, { serverId: e.id });
  return serverOutcome(await ctx.store.updateInstance(ctx.incidentId, e.id, event, unlessSettled({ finishedAt: ctx.clock.now(), ...(event === 'deleted' ? {} : { error: why }) })));
}
