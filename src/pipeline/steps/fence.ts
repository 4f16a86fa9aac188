import type { FenceHostOptions } from '../../fencing/fence-host.js';
import { fenceLevels as realFenceLevels, type FenceLevelsFn, type FencePlan } from '../../fencing/fence-levels.js';
import type { FenceDriver, FenceEvent, FenceResult } from '../../fencing/types.js';
import { note, record, type StepContext, type StepOutcome } from './context.js';

/** src/fencing's fenceHost: power off and read back off, with bounded retries. */
export type FenceHostFn = (driver: FenceDriver, opts: FenceHostOptions) => Promise<FenceResult>;

export interface FenceStepDeps {
  readonly driver: FenceDriver | null;
  readonly fenceHost: FenceHostFn;
  /** The host's fence levels; when given (null = none configured) it replaces `driver`. */
  readonly plan?: FencePlan | null;
  readonly fenceLevels?: FenceLevelsFn;
}

/**
 * Powers the host off and proves it reads back off. Nothing after this step runs unless it returns done
 * (or skip because a previous run already proved it).
 */
export async function fenceStep(ctx: StepContext, deps: FenceStepDeps): Promise<StepOutcome> {
  const rec = await record(ctx);
  if (rec.fence) return { kind: 'skip', reason: `already fenced at ${new Date(rec.fence.at).toISOString()}` };
  if (deps.plan !== undefined) return fenceByLevels(ctx, deps.plan, deps.fenceLevels ?? realFenceLevels);
  const { driver } = deps;
  if (!driver) {
    return { kind: 'fail', code: 'fence_not_configured', reason: `host ${rec.host} has no fencing configured (driver none): it is never evacuated automatically` };
  }
  if (driver.kind === 'noop' && !ctx.fencing.allowUnfencedEvacuation) {
    return { kind: 'fail', code: 'fence_unfenced_refused', reason: `host ${rec.host} uses the noop fence driver but allow_unfenced_evacuation is off` };
  }
  await ctx.store.update(ctx.incidentId, (r) => (r.status === 'open' ? { ...r, status: 'fencing' } : undefined));
  await note(ctx, 'fence', 'info', `fencing ${rec.host} through ${driver.kind} BMC ${driver.target}`);
  const events: FenceEvent[] = [];
  ctx.metrics?.fenceAttempts?.inc({ driver: driver.kind });
  const result = await deps.fenceHost(driver, {
    timeoutMs: ctx.fencing.timeoutMs,
    pollIntervalMs: ctx.fencing.pollIntervalMs,
    attempts: ctx.fencing.attempts,
    signal: ctx.signal,
    onEvent: (e) => { events.push(e); },
  });
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
  await ctx.store.update(ctx.incidentId, (r) => ({
    ...r,
    status: r.status === 'fencing' || r.status === 'open' ? 'fenced' : r.status,
    fence: { driver: driver.kind, target: driver.target, unfenced, alreadyOff: result.alreadyOff, durationMs: result.durationMs, at },
  }));
  if (unfenced) {
    await note(ctx, 'fence', 'critical',
      `NOTHING WAS FENCED: host ${rec.host} uses the noop driver (allow_unfenced_evacuation). If it is still running, its instances will run twice and shared disks may be corrupted`);
  } else {
    await note(ctx, 'fence', 'info', `power of ${rec.host} reads back off${result.alreadyOff ? ' (it was already off)' : ''} after ${result.durationMs} ms`);
  }
  return { kind: 'done' };
}

/** The same step over the host's fence levels: each device's try and its evidence go to the timeline. */
async function fenceByLevels(ctx: StepContext, plan: FencePlan | null, run: FenceLevelsFn): Promise<StepOutcome> {
  const rec = await record(ctx);
  if (!plan) {
    return { kind: 'fail', code: 'fence_not_configured', reason: `host ${rec.host} has no fencing configured (no fence level): it is never evacuated automatically` };
  }
  if (plan.levels.some((l) => l.some((d) => d.kind === 'noop')) && !ctx.fencing.allowUnfencedEvacuation) {
    return { kind: 'fail', code: 'fence_unfenced_refused', reason: `host ${rec.host} uses the noop fence driver but allow_unfenced_evacuation is off` };
  }
  await ctx.store.update(ctx.incidentId, (r) => (r.status === 'open' ? { ...r, status: 'fencing' } : undefined));
  const levels = plan.levels.map((l, i) => `${i + 1}: ${l.map((d) => d.kind).join(' + ')}`).join(' | ');
  await note(ctx, 'fence', 'info', `fencing ${rec.host}, levels ${levels}${plan.storage && !plan.levels.every((l) => l.includes(plan.storage!)) ? ' (storage fence after any power-off)' : ''}`);
  const events: FenceEvent[] = [];
  const result = await run(plan, {
    timeoutMs: ctx.fencing.timeoutMs, pollIntervalMs: ctx.fencing.pollIntervalMs, attempts: ctx.fencing.attempts,
    signal: ctx.signal, onEvent: (e) => { events.push(e); },
  });
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
  const at = ctx.clock.now();
  const winners = plan.levels[result.level - 1]!;
  await ctx.store.update(ctx.incidentId, (r) => ({
    ...r,
    status: r.status === 'fencing' || r.status === 'open' ? 'fenced' : r.status,
    fence: {
      driver: result.devices.join('+'), target: winners.map((d) => d.target).join(' + '), unfenced: result.unfenced,
      alreadyOff: result.alreadyOff, durationMs: result.durationMs, at, level: result.level,
      ...(result.storage ? { storage: { ok: result.storage.ok, detail: result.storage.detail, ...(result.storage.code ? { code: result.storage.code } : {}) } } : {}),
    },
  }));
  if (result.unfenced) {
    await note(ctx, 'fence', 'critical',
      `NOTHING WAS FENCED: host ${rec.host} uses the noop driver (allow_unfenced_evacuation). If it is still running, its instances will run twice and shared disks may be corrupted`);
  } else {
    await note(ctx, 'fence', 'info', `${rec.host} fenced by level ${result.level} (${result.devices.join(' + ')}) after ${result.durationMs} ms${result.poweredOff ? '; power reads back off' : '; storage cut off (power state not confirmed)'}`);
  }
  if (result.storage && !result.storage.ok) {
    await note(ctx, 'fence', 'warning', `storage fence after the power-off failed (${result.storage.code ?? 'error'}): ${result.storage.detail}; the host is fenced by its power-off`);
  }
  return { kind: 'done' };
}
