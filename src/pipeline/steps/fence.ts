import { fenceLevels as realFenceLevels, type FencePlan } from '../../fencing/fence-levels.js';
import type { FenceEvent } from '../../fencing/types.js';
import type { IncidentRecord } from '../../incidents/types.js';
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
  const plan = ctx.fencePlanFor?.(rec.host);
  if (plan !== undefined && !bmcOnly(plan)) return fenceByLevels(ctx, rec, plan);
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

/** One BMC and no storage fence: the driver's own path, as before levels existed. */
function bmcOnly(plan: FencePlan | null): boolean {
  return !!plan && !plan.storage && plan.levels.length === 1 && plan.levels[0]!.length === 1 && plan.levels[0]![0]!.kind !== 'ceph';
}

/** The same step over the host's fence levels: each device's try and its evidence go to the timeline. */
async function fenceByLevels(ctx: StepContext, rec: IncidentRecord, plan: FencePlan | null): Promise<StepOutcome> {
  if (!plan) {
    return { kind: 'fail', code: 'fence_not_configured', reason: `host ${rec.host} has no fencing configured (no fence level): it is never evacuated automatically` };
  }
  if (plan.levels.some((l) => l.some((d) => d.kind === 'noop')) && !ctx.fencing.allowUnfencedEvacuation) {
    return { kind: 'fail', code: 'fence_unfenced_refused', reason: `host ${rec.host} uses the noop fence driver but allow_unfenced_evacuation is off` };
  }
  await ctx.leadership?.assertLeading(ctx.signal);
  const interruptedAt = rec.status === 'fencing' ? rec.fenceStartedAt : undefined;
  if (interruptedAt !== undefined) {
    await note(ctx, 'fence', 'warning', `an earlier fence attempt began at ${iso(interruptedAt)} and never finished (the controller stopped): it may have sent a power-off or a blocklist`);
  }
  await ctx.store.transition(ctx.incidentId, 'fence_started', () => ({ fenceStartedAt: ctx.clock.now() }));
  const levels = plan.levels.map((l, i) => `${i + 1}: ${l.map((d) => d.kind).join(' + ')}`).join(' | ');
  const extra = plan.storage && !plan.levels.every((l) => l.includes(plan.storage!)) ? ' (storage fence after any power-off)' : '';
  await note(ctx, 'fence', 'info', `fencing ${rec.host}, levels ${levels}${extra}`);
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
  if (events.length > 0) {
    await ctx.store.addTimeline(ctx.incidentId, ...events.map((e) => ({
      at: e.at, step: 'fence', level: e.kind === 'error' ? 'warning' as const : 'info' as const, message: `${e.kind}: ${e.detail}`,
    })));
  }
  for (const a of result.attempts) {
    await note(ctx, 'fence', a.ok ? 'info' : 'warning',
      `level ${a.level} ${a.kind} ${a.target}: ${a.ok ? 'confirmed' : `FAILED ${a.code ?? ''}`}: ${a.detail} (${a.durationMs} ms)`,
      { data: { attempt: a } });
  }
  if (!result.ok) return { kind: 'fail', code: result.code, reason: `fencing ${rec.host} failed: ${result.reason}` };
  const winners = plan.levels[result.level - 1]!;
  const at = ctx.clock.now();
  await ctx.store.transition(ctx.incidentId, 'fenced', () => ({
    fence: {
      driver: result.devices.join('+'), target: winners.map((d) => d.target).join(' + '), unfenced: result.unfenced,
      alreadyOff: result.alreadyOff, durationMs: result.durationMs, at, level: result.level,
      ...(result.storage ? { storage: { ok: result.storage.ok, detail: result.storage.detail, ...(result.storage.code ? { code: result.storage.code } : {}) } } : {}),
    },
  }));
  if (result.unfenced) {
    await note(ctx, 'fence', 'critical',
      `NOTHING WAS FENCED: host ${rec.host} uses the noop driver (allow_unfenced_evacuation). If it is still running, its instances will run twice and shared disks may be corrupted`);
    return { kind: 'done' };
  }
  await note(ctx, 'fence', 'info', `${rec.host} fenced by level ${result.level} (${result.devices.join(' + ')}) after ${result.durationMs} ms${result.poweredOff ? '; power reads back off' : '; storage cut off (power state not confirmed)'}`);
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
