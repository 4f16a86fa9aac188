import { describeRecordedSignals } from '../detector/signals.js';
import { isFinalInstanceState, type IncidentStatus } from '../incidents/types.js';
import { recoveryEnd } from './ended.js';
import { failedHostIn, readCloudView, type CloudView } from './steps/cloud-view.js';
import { record, note, type StepContext } from './steps/context.js';
import { disableStep } from './steps/disable.js';
import { fenceStep } from './steps/fence.js';
import { closeEarly } from './steps/finalize.js';
import { forceDownStep } from './steps/force-down.js';
import { inventoryStep } from './steps/inventory.js';
import { notifyOnce } from './steps/notify.js';
import { recheckAliveStep } from './steps/recheck-alive.js';
import { schedulerStep } from './steps/scheduler.js';
import { spareStep } from './steps/spare.js';

export type PrepareResult =
  | { readonly kind: 'evacuate'; readonly serverIds: readonly string[] }
  /** Every fence failed: the incident waits for `cmpha fence confirm`; nothing was forced down or evacuated. */
  | { readonly kind: 'awaiting_fence' }
  | { readonly kind: 'closed'; readonly status: IncidentStatus };

/** ` (answered: …; silent: …)` from the detector's evidence, so the page that a recovery started says what cmpha heard. */
function heard(evidence: unknown): string {
  const signals = describeRecordedSignals(evidence);
  return signals ? ` (${signals})` : '';
}

/**
 * Everything before the evacuations: re-check, fence, force down, disable, inventory, spare. Each step
 * re-reads Nova and the record, so running this again after a crash redoes only what is missing.
 * Returns the servers still to evacuate (highest priority first), that the incident waits for a human's
 * fence confirmation, or that it is closed.
 *
 * What must be serial is: the fence confirmed, then the force-down (Nova evacuates nothing from a host it
 * believes up; the scheduler places nothing more on a host forced down), then the inventory (after the
 * force-down, so no server lands there after it was listed), then the spare's choice and enable, then the
 * evacuations. The rest runs beside it: the cloud's hosts and the spares' capacity are read while the fence
 * runs (reads only), and the disable goes out beside the inventory and the spare (it needs only the
 * force-down; the evacuations still wait for it). bench/fence-to-evacuate.ts measures each piece.
 */
export async function prepareIncident(ctx: StepContext): Promise<PrepareResult> {
  const rec = await record(ctx);
  const end = recoveryEnd(rec.status);
  if (end === 'closed') return { kind: 'closed', status: rec.status };
  if (end === 'waiting') return { kind: 'awaiting_fence' };

  if (!rec.fence) {
    await notifyOnce(ctx, rec, {
      type: 'incident-opened', severity: 'warning',
      summary: `${rec.host} ${rec.origin === 'operator' ? 'is being evacuated on operator request' : `is down${heard(rec.evidence)}`}: fencing and evacuating its instances`,
    });
    const alive = await recheckAliveStep(ctx);
    if (alive.kind === 'abort') {
      const closed = await closeEarly(ctx, { status: 'aborted', code: 'host_alive', reason: alive.reason, event: 'incident-aborted', severity: 'warning' });
      return { kind: 'closed', status: closed.status };
    }
    // Read beside the fence; awaited (and its failure seen) only once the fence is confirmed.
    const reading = settled(readCloudView(ctx, rec));
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
    return evacuateFenced(ctx, await reading);
  }
  return evacuateFenced(ctx, await settled(readCloudView(ctx, rec)));
}

/** A promise's outcome, held without an unhandled rejection while other work runs. */
type Settled<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };
const settled = <T>(p: Promise<T>): Promise<Settled<T>> => p.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }));

/** The host is fenced: force it down, then disable it beside the inventory and the spare. */
async function evacuateFenced(ctx: StepContext, read: Settled<CloudView>): Promise<PrepareResult> {
  if (!read.ok) throw read.error;
  const view = read.value;
  const rec = await record(ctx);
  const host = failedHostIn(view, rec.host, ctx.compute.names);
  await forceDownStep(ctx, { host });
  // Both branches end before this attempt does (a failed one fails it, and the retry redoes only what is missing).
  const branches = await Promise.all([
    settled(disableStep(ctx, { host: { ...host, isolated: true } })),
    settled((async () => { await inventoryStep(ctx); await spareStep(ctx, view); })()),
  ]);
  for (const b of branches) if (!b.ok) throw b.error;
  await schedulerStep(ctx);
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
