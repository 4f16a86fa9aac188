import { isUnfencedDevice } from '../../fencing/devices/registry.js';
import { fenceLevels as realFenceLevels, type FencePlan } from '../../fencing/fence-levels.js';
import { powerDevice } from '../../fencing/power-device.js';
import type { FenceEvent } from '../../fencing/types.js';
import { note, record, type StepContext, type StepOutcome } from './context.js';

export type { FenceHostFn } from './context.js';

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Fences the host through its levels and proves it: the power reads back off, or the storage is cut off and
 * confirmed. Nothing after this step runs unless it returns done (or skip because a previous run already
 * proved it, or an operator confirmed it).
 *
 * The intent is written to the timeline before any device is called, so a controller killed between the
 * power-off and its record still leaves the account that a power-off may have gone out. A liveness look runs
 * alongside the fence: a host that answers again after the last check is fenced anyway (the decision stands on
 * the confirmed silence; a host back half-way cannot be trusted to hold its disks alone), and the timeline says so.
 */
export async function fenceStep(ctx: StepContext): Promise<StepOutcome> {
  const rec = await record(ctx);
  if (rec.fence) return { kind: 'skip', reason: `already fenced at ${iso(rec.fence.at)}` };
  // The credentials as the config says now, not as it said when the controller started.
  const reread = await ctx.refreshFencing?.(rec.host).catch(() => false);
  if (reread) await note(ctx, 'fence', 'info', `${rec.host}'s fence settings were read again from the config: they changed since the last attempt`);
  const plan = planFor(ctx, rec.host);
  if (!plan) {
    return { kind: 'fail', code: 'fence_not_configured', reason: `host ${rec.host} has no fencing configured (driver none, no fence level): it is never evacuated automatically` };
  }
  const unfencedKinds = [...new Set(plan.levels.flat().map((d) => d.kind).filter(isUnfencedDevice))];
  if (unfencedKinds.length > 0 && !ctx.fencing.allowUnfencedEvacuation) {
    return { kind: 'fail', code: 'fence_unfenced_refused', reason: `host ${rec.host} uses the ${unfencedKinds.join(', ')} fence driver but allow_unfenced_evacuation is off` };
  }
  // A power-off or a blocklist is a mutation like any other: a deposed controller sends none.
  await ctx.leadership?.assertLeading(ctx.signal);
  // One power device alone: the timeline speaks of the BMC, as an operator reads it; otherwise of levels.
  const single = plan.levels.length === 1 && plan.levels[0]!.length === 1 && !plan.storage && plan.levels[0]![0]!.power ? plan.levels[0]![0]! : undefined;
  const interruptedAt = rec.status === 'fencing' ? rec.fenceStartedAt : undefined;
  if (interruptedAt !== undefined) {
    await note(ctx, 'fence', 'warning', `an earlier fence attempt began at ${iso(interruptedAt)} and never finished (the controller stopped): it may have sent a power-off${single ? '' : ' or a blocklist'}`);
  }
  await ctx.store.transition(ctx.incidentId, 'fence_started', () => ({ fenceStartedAt: ctx.clock.now() }));
  if (single) {
    await note(ctx, 'fence', 'info', `fencing ${rec.host} through ${single.kind} BMC ${single.target}: a power-off is sent unless the power already reads off`);
  } else {
    const levels = plan.levels.map((l, i) => `${i + 1}: ${l.map((d) => d.kind).join(' + ')}`).join(' | ');
    const extra = plan.storage && !plan.levels.every((l) => l.includes(plan.storage!)) ? ' (storage fence after any power-off)' : '';
    await note(ctx, 'fence', 'info', `fencing ${rec.host}, levels ${levels}${extra}`);
  }
  const lateLook = rec.origin === 'operator' ? Promise.resolve(false) : ctx.isHostAlive(rec.host, ctx.signal).catch(() => false);
  const events: FenceEvent[] = [];
  const result = await (ctx.fenceLevels ?? realFenceLevels)(plan, {
    timeoutMs: ctx.fencing.timeoutMs, pollIntervalMs: ctx.fencing.pollIntervalMs, attempts: ctx.fencing.attempts,
    ...(ctx.signal ? { signal: ctx.signal } : {}), onEvent: (e) => { events.push(e); },
  });
  const answeredAgain = await lateLook;
  for (const a of result.attempts) {
    ctx.metrics?.fenceAttempts?.inc({ driver: a.kind });
    ctx.metrics?.fenceDuration?.observe({ driver: a.kind }, a.durationMs / 1000);
    if (!a.ok) ctx.metrics?.fenceFailures?.inc({ driver: a.kind, code: a.code ?? 'error' });
  }
  // With one device the level bookkeeping says nothing the device's own events do not.
  const told = single ? events.filter((e) => e.fenceLevel === undefined) : events;
  if (told.length > 0) {
    await ctx.store.addTimeline(ctx.incidentId, ...told.map((e) => ({
      at: e.at, step: 'fence', level: e.kind === 'error' ? 'warning' as const : 'info' as const, message: `${e.kind}: ${e.detail}`,
    })));
  }
  if (!single) {
    for (const a of result.attempts) {
      await note(ctx, 'fence', a.ok ? 'info' : 'warning',
        `level ${a.level} ${a.kind} ${a.target}: ${a.ok ? 'confirmed' : `FAILED ${a.code ?? ''}`}: ${a.detail} (${a.durationMs} ms)`,
        { data: { attempt: a } });
    }
  }
  if (!result.ok) {
    const power = plan.levels.some((l) => l.some((d) => d.power));
    return { kind: 'fail', code: result.code, reason: `fencing ${rec.host} failed: ${result.reason}${power ? ` (last power state: ${result.lastState})` : ''}` };
  }
  const winners = plan.levels[result.level - 1]!;
  const unfenced = result.unfenced || winners.some((d) => isUnfencedDevice(d.kind));
  const at = ctx.clock.now();
  await ctx.store.transition(ctx.incidentId, 'fenced', () => ({
    fence: {
      driver: result.devices.join('+'), target: winners.map((d) => d.target).join(' + '), unfenced,
      alreadyOff: result.alreadyOff, durationMs: result.durationMs, at, ...(single ? {} : { level: result.level }),
      ...(result.storage ? { storage: { ok: result.storage.ok, detail: result.storage.detail, ...(result.storage.code ? { code: result.storage.code } : {}) } } : {}),
    },
  }));
  if (unfenced) {
    await note(ctx, 'fence', 'critical',
      `NOTHING WAS FENCED: host ${rec.host} uses the ${unfencedKinds.join(', ')} driver (allow_unfenced_evacuation). If it is still running, its instances will run twice and shared disks may be corrupted`);
    return { kind: 'done' };
  }
  if (single) {
    const already = !result.alreadyOff ? ''
      : interruptedAt !== undefined ? ` (it was already off: most likely the power-off of the interrupted attempt at ${iso(interruptedAt)})` : ' (it was already off)';
    await note(ctx, 'fence', 'info', `power of ${rec.host} reads back off${already} after ${result.durationMs} ms`);
  } else {
    await note(ctx, 'fence', 'info', `${rec.host} fenced by level ${result.level} (${result.devices.join(' + ')}) after ${result.durationMs} ms${result.poweredOff ? '; power reads back off' : '; storage cut off (power state not confirmed)'}`);
  }
  if (result.storage && !result.storage.ok) {
    await note(ctx, 'fence', 'warning', `storage fence after the power-off failed (${result.storage.code ?? 'error'}): ${result.storage.detail}; the host is fenced by its power-off`);
  }
  if (answeredAgain) {
    await note(ctx, 'fence', 'warning',
      `${rec.host} answered again while it was being fenced, after the last liveness check had found it silent; it was fenced anyway: `
      + 'the failure was confirmed over several rounds, and a host that comes back half-way cannot be trusted to be the only writer of its disks. Check it before restoring it');
  }
  return { kind: 'done' };
}

/**
 * The host's levels; a host without a plan of its own (no [host:NAME] section, a test's driver) is fenced by
 * its power switch alone. Null when nothing can fence it.
 */
function planFor(ctx: StepContext, host: string): FencePlan | null {
  const plan = ctx.fencePlanFor?.(host);
  if (plan !== undefined) return plan;
  const driver = ctx.fenceDriverFor(host);
  return driver ? { host, levels: [[powerDevice(driver, ctx.fenceHost)]] } : null;
}
