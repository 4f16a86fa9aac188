import { assertFenced } from '../../incidents/fence-guard.js';
import { CmphaError } from '../../shared/errors.js';
import { computeService, note, type StepContext, type StepOutcome } from './context.js';

export function disabledReason(prefix: string, incidentId: string, at: number): string {
  return `${prefix} incident ${incidentId} ${new Date(at).toISOString()}`;
}

/** Keeps the scheduler off the dead host, with a reason operators see in `openstack compute service list --long`. */
export async function disableStep(ctx: StepContext): Promise<StepOutcome> {
  const rec = await assertFenced(ctx, 'disable the host');
  const svc = await computeService(ctx, rec.host);
  if (!svc.forcedDown) throw new CmphaError('not_forced_down', `refusing to disable ${rec.host} before it is forced down (Nova would block for a minute)`);
  const mine = `${ctx.evacuation.disabledReasonPrefix} incident ${rec.id} `;
  if (svc.status === 'disabled' && (svc.disabledReason ?? '').startsWith(mine)) {
    return { kind: 'skip', reason: 'already disabled for this incident' };
  }
  const reason = disabledReason(ctx.evacuation.disabledReasonPrefix, rec.id, ctx.clock.now());
  await ctx.nova.updateService(svc.id, { status: 'disabled', disabledReason: reason }, { signal: ctx.signal });
  await note(ctx, 'disable', 'info', `nova-compute on ${rec.host} disabled: "${reason}"`
    + (svc.status === 'disabled' ? ` (was disabled: "${svc.disabledReason ?? ''}")` : ''));
  return { kind: 'done' };
}
