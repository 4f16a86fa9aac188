import { isFinalInstanceState, type IncidentStatus } from '../incidents/types.js';
import { recoveryEnd } from './ended.js';
import { record, note, type StepContext } from './steps/context.js';
import { disableStep } from './steps/disable.js';
import { fenceStep } from './steps/fence.js';
import { closeEarly } from './steps/finalize.js';
import { forceDownStep } from './steps/force-down.js';
import { inventoryStep } from './steps/inventory.js';
import { notifyOnce } from './steps/notify.js';
import { recheckAliveStep } from './steps/recheck-alive.js';
import { spareStep } from './steps/spare.js';

export type PrepareResult =
  | { readonly kind: 'evacuate'; readonly serverIds: readonly string[] }
  /** Every fence failed: the incident waits for `cmpha fence confirm`; nothing was forced down or evacuated. */
  | { readonly kind: 'awaiting_fence' }
  | { readonly kind: 'closed'; readonly status: IncidentStatus };

/**
 * Everything before the evacuations: re-check, fence, force down, disable, inventory, spare. Each step
 * re-reads Nova and the record, so running this again after a crash redoes only what is missing.
 * Returns the servers still to evacuate (highest priority first), that the incident waits for a human's
 * fence confirmation, or that it is closed.
 */
export async function prepareIncident(ctx: StepContext): Promise<PrepareResult> {
  const rec = await record(ctx);
  const end = recoveryEnd(rec.status);
  if (end === 'closed') return { kind: 'closed', status: rec.status };
  if (end === 'waiting') return { kind: 'awaiting_fence' };

  if (!rec.fence) {
    await notifyOnce(ctx, rec, {
      type: 'incident-opened', severity: 'warning',
      summary: `${rec.host} ${rec.origin === 'operator' ? 'is being evacuated on operator request' : 'is down'}: fencing and evacuating its instances`,
    });
    const alive = await recheckAliveStep(ctx);
    if (alive.kind === 'abort') {
      const closed = await closeEarly(ctx, { status: 'aborted', code: 'host_alive', reason: alive.reason, event: 'incident-aborted', severity: 'warning' });
      return { kind: 'closed', status: closed.status };
    }
    const fenced = await fenceStep(ctx);
    if (fenced.kind === 'fail') {
      if (fenced.code === 'fence_not_configured' || fenced.code === 'fence_unfenced_refused') {
        const closed = await closeEarly(ctx, {
          status: 'failed', code: fenced.code, severity: 'critical', event: 'incident-failed',
          reason: `${fenced.reason}; nothing was forced down or evacuated`,
        });
        return { kind: 'closed', status: closed.status };
      }
      await awaitFence(ctx, fenced.code, `${fenced.reason}; nothing was forced down or evacuated`);
      return { kind: 'awaiting_fence' };
    }
  }

  await forceDownStep(ctx);
  await disableStep(ctx);
  await inventoryStep(ctx);
  await spareStep(ctx);
  await ctx.store.transition(ctx.incidentId, 'evacuation_started');
  const todo = (await ctx.store.listInstances(ctx.incidentId)).filter((e) => !isFinalInstanceState(e.state));
  return { kind: 'evacuate', serverIds: todo.map((e) => e.id) };
}

/**
 * Every fence attempt failed. The incident stays open (one per failure, whatever restarts follow) and pages:
 * nothing is forced down or evacuated until a human has made sure the host is off and says so.
 */
async function awaitFence(ctx: StepContext, code: string, reason: string): Promise<void> {
  const { record: rec } = await ctx.store.transition(ctx.incidentId, 'fence_failed', () => ({ error: { code, message: reason } }));
  await note(ctx, 'fence', 'critical',
    `${reason}. Waiting for an operator: power ${rec.host} off by other means, make sure it is off, then run \`cmpha fence confirm ${rec.host} --yes\``,
    { data: { code } });
  const instances = await ctx.store.listInstances(ctx.incidentId);
  await notifyOnce(ctx, rec, {
    type: 'fence-failed', severity: 'critical', summary: `${rec.host}: ${reason}`,
    ...(instances.length > 0 ? { instances } : {}),
  });
}
