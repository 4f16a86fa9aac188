import type { FenceEvent } from '../../fencing/types.js';
import { note, record, type StepContext, type StepOutcome } from './context.js';

export type { FenceHostFn } from './context.js';

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Powers the host off and proves it reads back off. Nothing after this step runs unless it returns done
 * (or skip because a previous run already proved it, or an operator confirmed it).
 *
 * The intent is written to the timeline before the BMC is called, so a controller killed between the
 * power-off and its record still leaves the account that a power-off may have gone out. A liveness look runs
 * alongside the fence: a host that answers again after the last check is fenced anyway (the decision stands on
 * the confirmed silence; a host back half-way cannot be trusted to hold its disks alone), and the timeline says so.
 */
export async function fenceStep(ctx: StepContext): Promise<StepOutcome> {
  const rec = await record(ctx);
  if (rec.fence) return { kind: 'skip', reason: `already fenced at ${iso(rec.fence.at)}` };
  const driver = ctx.fenceDriverFor(rec.host);
  if (!driver) {
    return { kind: 'fail', code: 'fence_not_configured', reason: `host ${rec.host} has no fencing configured (driver none): it is never evacuated automatically` };
  }
  if (driver.kind === 'noop' && !ctx.fencing.allowUnfencedEvacuation) {
    return { kind: 'fail', code: 'fence_unfenced_refused', reason: `host ${rec.host} uses the noop fence driver but allow_unfenced_evacuation is off` };
  }
  // A power-off is a mutation like any other: a deposed controller sends none.
  await ctx.leadership?.assertLeading(ctx.signal);
  const interruptedAt = rec.status === 'fencing' ? rec.fenceStartedAt : undefined;
  if (interruptedAt !== undefined) {
    await note(ctx, 'fence', 'warning', `an earlier fence attempt began at ${iso(interruptedAt)} and never finished (the controller stopped): it may have sent a power-off`);
  }
  await ctx.store.transition(ctx.incidentId, 'fence_started', () => ({ fenceStartedAt: ctx.clock.now() }));
  await note(ctx, 'fence', 'info', `fencing ${rec.host} through ${driver.kind} BMC ${driver.target}: a power-off is sent unless the power already reads off`);
  const lateLook = rec.origin === 'operator' ? Promise.resolve(false) : ctx.isHostAlive(rec.host, ctx.signal).catch(() => false);
  const events: FenceEvent[] = [];
  ctx.metrics?.fenceAttempts?.inc({ driver: driver.kind });
  const result = await ctx.fenceHost(driver, {
    timeoutMs: ctx.fencing.timeoutMs,
    pollIntervalMs: ctx.fencing.pollIntervalMs,
    attempts: ctx.fencing.attempts,
    ...(ctx.signal ? { signal: ctx.signal } : {}),
    onEvent: (e) => { events.push(e); },
  });
  const answeredAgain = await lateLook;
  ctx.metrics?.fenceDuration?.observe({ driver: driver.kind }, result.durationMs / 1000);
  if (events.length > 0) {
    await ctx.store.addTimeline(ctx.incidentId, ...events.map((e) => ({
      at: e.at, step: 'fence', level: e.kind === 'error' ? 'warning' as const : 'info' as const, message: `${e.kind}: ${e.detail}`,
    })));
  }
  if (!result.ok) {
    ctx.metrics?.fenceFailures?.inc({ driver: driver.kind, code: result.code });
    return { kind: 'fail', code: result.code, reason: `fencing ${rec.host} failed: ${result.reason} (last power state: ${result.lastState})` };
  }
  const unfenced = result.unfenced || driver.kind === 'noop';
  const at = ctx.clock.now();
  await ctx.store.transition(ctx.incidentId, 'fenced', () => ({
    fence: { driver: driver.kind, target: driver.target, unfenced, alreadyOff: result.alreadyOff, durationMs: result.durationMs, at },
  }));
  if (unfenced) {
    await note(ctx, 'fence', 'critical',
      `NOTHING WAS FENCED: host ${rec.host} uses the noop driver (allow_unfenced_evacuation). If it is still running, its instances will run twice and shared disks may be corrupted`);
    return { kind: 'done' };
  }
  const already = !result.alreadyOff ? ''
    : interruptedAt !== undefined ? ` (it was already off: most likely the power-off of the interrupted attempt at ${iso(interruptedAt)})` : ' (it was already off)';
  await note(ctx, 'fence', 'info', `power of ${rec.host} reads back off${already} after ${result.durationMs} ms`);
  if (answeredAgain) {
    await note(ctx, 'fence', 'warning',
      `${rec.host} answered again while it was being fenced, after the last liveness check had found it silent; it was fenced anyway: `
      + 'the failure was confirmed over several rounds, and a host that comes back half-way cannot be trusted to be the only writer of its disks. Check it before restoring it');
  }
  return { kind: 'done' };
}
