import { requestEvacuation } from '../../evacuator/evacuate-server.js';
import { waitActive } from '../../evacuator/verify-server.js';
import { unlessSettled } from '../../incidents/instance-transitions.js';
import { CmphaError, errorMessage } from '../../shared/errors.js';
import { note, serverOutcome, type ServerInput, type ServerOutcome, type StepContext } from './context.js';
import { reassertDownStep } from './reassert-down.js';
import { passCapacityGate } from '../capacity-gate.js';

/**
 * Nova's part of moving one server, what the evacuation slot is held for: evacuate, then wait until it runs
 * ACTIVE on another host (its network is verified after, outside the slot).
 *
 * Nova answering "Compute service of HOST is still in use." means the force-down did not take (lost, or
 * undone): force down (and disable) again, then ask again, a bounded number of times. An evacuation to a
 * chosen spare that fails in Nova's scheduler comes back `pending` without a target (waitActive decides that,
 * once, before the entry is final), and one without a target that Nova's scheduler finds no room for comes back
 * `awaiting_capacity`: each round passes the capacity gate (passCapacityGate) before anything is sent, so a server
 * with no room anywhere waits there (CapacityWaiting gives its slot back and delays its job).
 */
export async function moveServerStep(ctx: StepContext, input: ServerInput): Promise<ServerOutcome> {
  const { serverId } = input;
  const maxInUse = ctx.inUseRetries ?? 5;
  let inUse = 0;
  for (;;) {
    // A server without a target passes the capacity gate first: with no room anywhere it waits (CapacityWaiting).
    await passCapacityGate(ctx, serverId);
    let entry;
    try {
      entry = await requestEvacuation(ctx, serverId);
    } catch (err) {
      if (!(err instanceof CmphaError && err.code === 'nova_service_in_use')) throw err;
      inUse++;
      const rec = await ctx.store.require(ctx.incidentId);
      if (inUse > maxInUse) {
        await note(ctx, 'evacuate', 'critical', `${serverId}: ${ctx.compute.names.cloud} still says the source host is in use after ${maxInUse} tries ${ctx.compute.names.isolating}`, { serverId });
        return serverOutcome(await ctx.store.updateInstance(ctx.incidentId, serverId, 'failed',
          unlessSettled({ error: errorMessage(err.cause ?? err), finishedAt: ctx.clock.now() })));
      }
      await note(ctx, 'evacuate', 'warning', `${serverId}: ${ctx.compute.names.cloud} says ${rec.host} is still in use; ${ctx.compute.names.isolating} again`, { serverId });
      await reassertDownStep(ctx);
      await ctx.sleep(Math.min(1000 * inUse, 5000), ctx.signal);
      continue;
    }
    if (entry.state === 'evacuated') entry = await waitActive(ctx, serverId, { retarget: true });
    // Back to `pending` (a spare refused it) or `awaiting_capacity` (the scheduler found no room): through the
    // capacity gate again before any other request.
    if (entry.state !== 'pending' && entry.state !== 'awaiting_capacity') return serverOutcome(entry);
    inUse = 0;
  }
}
