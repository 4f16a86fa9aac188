import { finishEntry } from '../../evacuator/entry-state.js';
import { evacuateServer } from '../../evacuator/evacuate-server.js';
import { verifyActive } from '../../evacuator/verify-server.js';
import { CmphaError, errorMessage } from '../../shared/errors.js';
import { note, serverOutcome, type ServerInput, type ServerOutcome, type StepContext } from './context.js';
import { reassertDownStep } from './reassert-down.js';

/**
 * One evacuate request cycle for one server. Nova answering "Compute service of HOST is still in use." means
 * the force-down did not take (lost, or undone): force down (and disable) again, then ask again, a bounded
 * number of times.
 */
export async function evacuateStep(ctx: StepContext, input: ServerInput): Promise<ServerOutcome> {
  const { serverId } = input;
  const maxInUse = ctx.inUseRetries ?? 5;
  for (let inUse = 1; ; inUse++) {
    try {
      return await evacuateServer(ctx, input);
    } catch (err) {
      if (!(err instanceof CmphaError && err.code === 'nova_service_in_use')) throw err;
      const rec = await ctx.store.require(ctx.incidentId);
      if (inUse > maxInUse) {
        await note(ctx, 'evacuate', 'critical', `${serverId}: Nova still says the source service is in use after ${maxInUse} force-downs`, { serverId });
        return serverOutcome(await finishEntry(ctx, serverId, { state: 'failed', error: errorMessage(err.cause ?? err), finishedAt: ctx.clock.now() }));
      }
      await note(ctx, 'evacuate', 'warning', `${serverId}: Nova says ${rec.host} is still in use; forcing it down again`, { serverId });
      await reassertDownStep(ctx);
      await ctx.sleep(Math.min(1000 * inUse, 5000), ctx.signal);
    }
  }
}

const NO_ROOM = /evacuation migration (error|failed)/;

/**
 * Nova's part of moving one server, what the evacuation slot is held for: evacuate, then wait until it runs
 * ACTIVE on another host (its network is verified after, outside the slot). When an evacuation to a chosen
 * spare fails in Nova's scheduler (the spare had no room: its free capacity was unknown, or another incident
 * took it meanwhile), the server is evacuated once more without a target so the scheduler may find it a host.
 * That second request follows a definitive failure (migration error, server still on the source), so it is
 * no blind repeat.
 */
export async function moveServerStep(ctx: StepContext, input: ServerInput): Promise<ServerOutcome> {
  const { serverId } = input;
  for (;;) {
    let out = await evacuateStep(ctx, input);
    if (out.entry.state === 'evacuated') out = await verifyActive(ctx, input);
    const entry = out.entry;
    if (entry.state !== 'failed' || entry.target === null || entry.retargetedFrom !== undefined || !NO_ROOM.test(entry.error ?? '')) return out;
    const spare = entry.target;
    await ctx.store.updateInstance(ctx.incidentId, serverId, (e) => (e.state === 'failed' && e.retargetedFrom === undefined
      ? { ...e, state: 'pending', target: null, retargetedFrom: spare, error: undefined, finishedAt: undefined }
      : undefined));
    await note(ctx, 'evacuate', 'warning',
      `${entry.name}: evacuation to ${spare} failed (${entry.error}); evacuating it again without a target, the scheduler chooses`, { serverId });
  }
}
