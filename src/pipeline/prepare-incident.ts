import type { FenceLevelsFn, FencePlan } from '../fencing/fence-levels.js';
import type { FenceDriver } from '../fencing/types.js';
import { isFinalInstanceState, isTerminalStatus, type IncidentStatus } from '../incidents/types.js';
import type { NotificationService } from '../notifier/types.js';
import { record, type StepContext } from './steps/context.js';
import { disableStep } from './steps/disable.js';
import { fenceStep, type FenceHostFn } from './steps/fence.js';
import { closeEarly } from './steps/finalize.js';
import { forceDownStep } from './steps/force-down.js';
import { inventoryStep } from './steps/inventory.js';
import { notifyOnce } from './steps/notify.js';
import { recheckAliveStep, type HostAliveCheck } from './steps/recheck-alive.js';
import { spareStep } from './steps/spare.js';

export interface PrepareDeps {
  readonly isHostAlive: HostAliveCheck;
  readonly fenceDriver: FenceDriver | null;
  readonly fenceHost: FenceHostFn;
  /** The host's fence levels; when given it replaces fenceDriver (null: nothing can fence the host). */
  readonly fencePlan?: FencePlan | null;
  readonly fenceLevels?: FenceLevelsFn;
  readonly notifier: NotificationService;
}

export type PrepareResult =
  | { readonly kind: 'evacuate'; readonly serverIds: readonly string[] }
  | { readonly kind: 'closed'; readonly status: IncidentStatus };

/**
 * Everything before the evacuations: re-check, fence, force down, disable, inventory, spare. Each step
 * re-reads Nova and the record, so running this again after a crash redoes only what is missing.
 * Returns the servers still to evacuate (highest priority first) or that the incident is closed.
 */
export async function prepareIncident(ctx: StepContext, deps: PrepareDeps): Promise<PrepareResult> {
  let rec = await record(ctx);
  if (isTerminalStatus(rec.status)) return { kind: 'closed', status: rec.status };

  if (!rec.fence) {
    await notifyOnce(ctx, deps.notifier, rec, {
      type: 'incident-opened', severity: 'warning',
      summary: `${rec.host} ${rec.origin === 'operator' ? 'is being evacuated on operator request' : 'is down'}: fencing and evacuating its instances`,
    });
    const alive = await recheckAliveStep(ctx, deps.isHostAlive);
    if (alive.kind === 'abort') {
      const closed = await closeEarly(ctx, deps.notifier, { status: 'aborted', code: 'host_alive', reason: alive.reason, event: 'incident-aborted', severity: 'warning' });
      return { kind: 'closed', status: closed.status };
    }
    const fenced = await fenceStep(ctx, {
      driver: deps.fenceDriver, fenceHost: deps.fenceHost,
      ...(deps.fencePlan !== undefined ? { plan: deps.fencePlan } : {}), ...(deps.fenceLevels ? { fenceLevels: deps.fenceLevels } : {}),
    });
    if (fenced.kind === 'fail') {
      const noFencing = fenced.code === 'fence_not_configured' || fenced.code === 'fence_unfenced_refused';
      const closed = await closeEarly(ctx, deps.notifier, {
        status: 'failed', code: fenced.code, severity: 'critical',
        reason: `${fenced.reason}; nothing was forced down or evacuated`,
        event: noFencing ? 'incident-failed' : 'fence-failed',
      });
      return { kind: 'closed', status: closed.status };
    }
  }

  await forceDownStep(ctx);
  await disableStep(ctx);
  await inventoryStep(ctx);
  await spareStep(ctx);
  rec = await ctx.store.update(ctx.incidentId, (r) => (r.status === 'fenced' || r.status === 'fencing' || r.status === 'open' ? { ...r, status: 'evacuating' } : undefined));
  const todo = (await ctx.store.listInstances(ctx.incidentId)).filter((e) => !isFinalInstanceState(e.state));
  return { kind: 'evacuate', serverIds: todo.map((e) => e.id) };
}
