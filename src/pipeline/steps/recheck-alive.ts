import { note, record, type StepContext, type StepOutcome } from './context.js';

export type { HostAliveCheck } from './context.js';

/**
 * Last look before fencing: a host that answers again is not dead, and killing it would cause the outage
 * we exist to prevent. An operator's explicit request skips the check (they asked for the fence).
 */
export async function recheckAliveStep(ctx: StepContext): Promise<StepOutcome> {
  const rec = await record(ctx);
  if (rec.fence) return { kind: 'skip', reason: 'already fenced' };
  if (rec.origin === 'operator') {
    await note(ctx, 'recheck', 'info', 'liveness re-check skipped: evacuation requested by an operator');
    return { kind: 'skip', reason: 'operator request' };
  }
  if (await ctx.isHostAlive(rec.host, ctx.signal)) {
    return { kind: 'abort', reason: `host ${rec.host} answers again (${ctx.compute.names.cloud} reports it up or its management IP replies); nothing was fenced or evacuated` };
  }
  await note(ctx, 'recheck', 'info', `host ${rec.host} still shows no sign of life`);
  return { kind: 'done' };
}
