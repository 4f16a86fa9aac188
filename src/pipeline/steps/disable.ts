import { assertFenced } from '../../incidents/fence-guard.js';
import type { ComputeHost } from '../../compute/types.js';
import { computeHost, note, type StepContext, type StepOutcome } from './context.js';

/** Keeps the scheduler off the dead host, with a reason operators see in `openstack compute service list --long`. */
export async function disableStep(ctx: StepContext, opts: { host?: ComputeHost } = {}): Promise<StepOutcome> {
  const rec = await assertFenced(ctx, 'disable the host');
  // The service as the force-down just left it (forced down), or read now.
  const svc = opts.host ?? await computeHost(ctx, rec.host);
  if (svc.status === 'disabled' && svc.isolated && svc.marker.incident?.id === rec.id) {
    return { kind: 'skip', reason: 'already disabled for this incident' };
  }
  // The backend refuses a host not isolated yet (Nova would block for a minute).
  const reason = await ctx.compute.mark(svc, rec.id, ctx.clock.now(), { signal: ctx.signal });
  await note(ctx, 'disable', 'info', `${ctx.compute.names.service(rec.host)} disabled: "${reason}"`
    + (svc.status === 'disabled' ? ` (was disabled: "${svc.reason ?? ''}")` : ''));
  return { kind: 'done' };
}
