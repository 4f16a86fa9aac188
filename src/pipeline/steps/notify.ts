import type { IncidentRecord, InstanceEntry } from '../../incidents/types.js';
import type { AffectedInstance, NotificationEvent, NotificationEventType, Severity } from '../../notifier/types.js';
import { errorMessage } from '../../shared/errors.js';
import { note, type StepContext } from './context.js';

export function affected(instances: readonly InstanceEntry[]): AffectedInstance[] {
  return instances.map((e) => ({
    id: e.id,
    name: e.name,
    projectId: e.projectId,
    userId: e.userId,
    sourceHost: e.source,
    targetHost: e.target,
    state: e.state,
    ...(e.downtimeMs !== undefined ? { downtimeMs: e.downtimeMs } : {}),
    ...(e.downFrom !== undefined && e.backAt !== undefined ? { downFrom: e.downFrom, backAt: e.backAt } : {}),
    ...(e.error ?? e.skipReason ? { error: e.error ?? e.skipReason } : {}),
    ...(e.metadata ? { metadata: e.metadata } : {}),
  }));
}

/**
 * Sends one event per type per incident (per `key` when given: a notice about one server) and stores the delivery
 * records on the incident. The record of having sent is written after sending: a crash in between repeats the
 * notice rather than losing it.
 */
export async function notifyOnce(
  ctx: Pick<StepContext, 'incidentId' | 'store' | 'logger' | 'clock' | 'notifier'>,
  rec: IncidentRecord,
  event: { type: NotificationEventType; severity: Severity; summary: string; details?: string; instances?: readonly InstanceEntry[]; key?: string },
): Promise<void> {
  const key = event.key ?? event.type;
  const current = await ctx.store.require(rec.id);
  if (current.notified.includes(key)) return;
  const full: NotificationEvent = {
    type: event.type,
    severity: event.severity,
    host: rec.host,
    incidentId: rec.id,
    summary: event.summary,
    ...(event.details ? { details: event.details } : {}),
    ...(event.instances ? { instances: affected(event.instances) } : {}),
    at: ctx.clock.now(),
  };
  let ok = 0;
  let total = 0;
  try {
    const records = await ctx.notifier.notify(full);
    total = records.length;
    ok = records.filter((r) => r.ok).length;
    await ctx.store.addDeliveries(rec.id, records);
  } catch (err) {
    // The notifier promises not to throw; if it does, the incident still moves on and says so.
    await note(ctx, 'notify', 'critical', `notifier failed for ${event.type}: ${errorMessage(err)}`);
  }
  await ctx.store.update(rec.id, (r) => (r.notified.includes(key) ? undefined : { ...r, notified: [...r.notified, key] }));
  await note(ctx, 'notify', ok < total ? 'warning' : 'info', `${event.type} (${event.severity}) sent: ${ok} of ${total} deliveries succeeded`);
}
