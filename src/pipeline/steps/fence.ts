import type { FenceHostOptions } from '../../fencing/fence-host.js';
import type { FenceDriver, FenceEvent, FenceResult } from '../../fencing/types.js';
import { note, record, type StepContext, type StepOutcome } from './context.js';

/** src/fencing's fenceHost: power off and read back off, with bounded retries. */
export type FenceHostFn = (driver: FenceDriver, opts: FenceHostOptions) => Promise<FenceResult>;

export interface FenceStepDeps {
  readonly driver: FenceDriver | null;
  readonly fenceHost: FenceHostFn;
}

/**
 * Powers the host off and proves it reads back off. Nothing after this step runs unless it returns done
 * (or skip because a previous run already proved it).
 */
export async function fenceStep(ctx: StepContext, deps: FenceStepDeps): Promise<StepOutcome> {
  const rec = await record(ctx);
  if (rec.fence) return { kind: 'skip', reason: `already fenced at ${new Date(rec.fence.at).toISOString()}` };
  const { driver } = deps;
  if (!driver) {
    return { kind: 'fail', code: 'fence_not_configured', reason: `host ${rec.host} has no fencing configured (driver none): it is never evacuated automatically` };
  }
  if (driver.kind === 'noop' && !ctx.fencing.allowUnfencedEvacuation) {
    return { kind: 'fail', code: 'fence_unfenced_refused', reason: `host ${rec.host} uses the noop fence driver but allow_unfenced_evacuation is off` };
  }
  // A deposed leader neither powers the host off nor marks the incident as being fenced.
  await ctx.leadership?.assertLeading(ctx.signal);
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
