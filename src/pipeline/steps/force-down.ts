import { assertFenced } from '../../incidents/fence-guard.js';
import type { ComputeHost } from '../../compute/types.js';
import { computeHost, note, type StepContext, type StepOutcome } from './context.js';

/**
 * Tells Nova the host is down now instead of after service_down_time, which evacuate requires. Must run
 * before disable: disabling a service Nova still believes up blocks for about a minute (nova-facts).
 */
export async function forceDownStep(ctx: StepContext, opts: { again?: boolean; host?: ComputeHost } = {}): Promise<StepOutcome> {
  const rec = await assertFenced(ctx, 'force down the host');
  // The service as read while the fence ran (see cloud-view.ts), or read now.
  const svc = opts.host ?? await computeHost(ctx, rec.host);
  await ctx.store.update(ctx.incidentId, (r) =>
    r.serviceId === svc.id && r.zone === svc.zone ? undefined : { ...r, serviceId: svc.id, ...(svc.zone ? { zone: svc.zone } : {}) });
  if (svc.isolated && !opts.again) {
    await note(ctx, 'force-down', 'info', `${ctx.compute.names.service(rec.host)} is already ${ctx.compute.names.isolated}`);
    return { kind: 'skip', reason: `already ${ctx.compute.names.isolated}` };
  }
  await ctx.compute.isolate(svc, { signal: ctx.signal, incidentId: rec.id });
  await note(ctx, 'force-down', 'info', `${ctx.compute.names.service(rec.host)} ${ctx.compute.names.isolated}`);
  return { kind: 'done' };
}
