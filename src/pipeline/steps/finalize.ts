import type { IncidentRecord, IncidentStatus, InstanceEntry } from '../../incidents/types.js';
import { isTerminalStatus } from '../../incidents/types.js';
import type { NotificationEventType, Severity } from '../../notifier/types.js';
import { formatDuration } from '../../shared/duration.js';
import { note, record, type StepContext } from './context.js';
import { notifyOnce } from './notify.js';

export interface Outcome {
  readonly status: Extract<IncidentStatus, 'resolved' | 'partial' | 'failed'>;
  readonly verified: number;
  readonly failed: number;
  readonly skipped: number;
  readonly deleted: number;
  readonly unfinished: number;
}

/** resolved: every server to move was verified (skipped and deleted ones are fine); partial: some; failed: none. */
export function outcomeOf(instances: readonly InstanceEntry[]): Outcome {
  const count = (s: InstanceEntry['state']) => instances.filter((e) => e.state === s).length;
  const verified = count('verified');
  const failed = count('failed');
  const skipped = count('skipped');
  const deleted = count('deleted');
  const unfinished = instances.length - verified - failed - skipped - deleted;
  const bad = failed + unfinished;
  const status = bad === 0 ? 'resolved' : verified > 0 ? 'partial' : 'failed';
  return { status, verified, failed, skipped, deleted, unfinished };
}

const EVENT: Record<Outcome['status'], { type: NotificationEventType; severity: Severity }> = {
  resolved: { type: 'incident-resolved', severity: 'info' },
  partial: { type: 'incident-partial', severity: 'critical' },
  failed: { type: 'incident-failed', severity: 'critical' },
};

/**
 * Closes the incident from what its instance entries say, then notifies. Safe to run again: a closed
 * incident keeps its status, and the notice goes out once.
 */
export async function finalizeStep(ctx: StepContext): Promise<IncidentRecord> {
  // A deposed leader closes nothing: the incident is the new leader's.
  await ctx.leadership?.assertLeading(ctx.signal);
  let rec = await record(ctx);
  const instances = await ctx.store.listInstances(ctx.incidentId);
  const out = outcomeOf(instances);
  if (!isTerminalStatus(rec.status)) {
    const lastVerified = Math.max(0, ...instances.map((e) => e.verifiedAt ?? 0));
    const failoverMs = lastVerified > 0 ? lastVerified - rec.failureStartedAt : undefined;
    let closedHere = false;
    rec = await ctx.store.update(ctx.incidentId, (r) => {
      closedHere = !isTerminalStatus(r.status);
      return closedHere ? { ...r, status: out.status, ...(failoverMs !== undefined ? { failoverMs } : {}) } : undefined;
    }, out.status);
    if (closedHere) {
      ctx.metrics?.incidentsClosed?.inc({ outcome: out.status });
      ctx.metrics?.incidentsOpen?.dec();
      if (failoverMs !== undefined) {
        ctx.metrics?.failoverDuration?.observe({}, failoverMs / 1000);
        if (out.status !== 'failed') ctx.metrics?.lastFailover?.record({ host: rec.host, outcome: out.status, durationSeconds: failoverMs / 1000, at: Math.floor(lastVerified / 1000) });
      }
    }
    for (const s of rec.spares ?? []) await ctx.store.releaseSpare(s.host, ctx.incidentId);
    await note(ctx, 'close', out.status === 'resolved' ? 'info' : 'critical',
      `incident ${out.status}: ${out.verified} verified, ${out.failed + out.unfinished} failed, ${out.skipped} left in place, ${out.deleted} deleted`
      + (failoverMs !== undefined ? `; failover took ${formatDuration(failoverMs)}` : ''));
  }
  if (rec.status === 'resolved' || rec.status === 'partial' || (rec.status === 'failed' && !rec.error)) {
    const ev = EVENT[rec.status];
    await notifyOnce(ctx, rec, {
      ...ev,
      summary: `${rec.host}: ${out.verified} of ${instances.length - out.skipped - out.deleted} instance(s) recovered`
        + (rec.failoverMs !== undefined ? ` in ${formatDuration(rec.failoverMs)}` : ''),
      details: failureDetails(instances),
      instances,
    });
  }
  return rec;
}

function failureDetails(instances: readonly InstanceEntry[]): string | undefined {
  const bad = instances.filter((e) => e.state === 'failed' || e.state === 'pending' || e.state === 'evacuating' || e.state === 'evacuated');
  if (bad.length === 0) return undefined;
  return bad.map((e) => `${e.name} (${e.id}): ${e.error ?? `left ${e.state}`}`).join('\n');
}

/**
 * Ends an incident early (no fencing, fence failed, host alive again, a step gave up) and sends the notice
 * before returning, so a job that stops here cannot swallow it.
 */
export async function closeEarly(
  ctx: StepContext,
  how: { status: 'failed' | 'aborted'; code: string; reason: string; event: NotificationEventType; severity: Severity },
): Promise<IncidentRecord> {
  // A deposed leader's failure is not the incident's: the new leader is working on it.
  await ctx.leadership?.assertLeading(ctx.signal);
  let rec = await record(ctx);
  if (!isTerminalStatus(rec.status)) {
    let closedHere = false;
    rec = await ctx.store.update(ctx.incidentId, (r) => {
      closedHere = !isTerminalStatus(r.status);
      return closedHere ? { ...r, status: how.status, error: { code: how.code, message: how.reason } } : undefined;
    }, how.status);
    if (closedHere) {
      ctx.metrics?.incidentsClosed?.inc({ outcome: how.status });
      ctx.metrics?.incidentsOpen?.dec();
    }
    for (const s of rec.spares ?? []) await ctx.store.releaseSpare(s.host, ctx.incidentId);
    await note(ctx, 'close', how.status === 'aborted' ? 'warning' : 'critical', `incident ${how.status}: ${how.reason}`, { data: { code: how.code } });
  }
  const instances = await ctx.store.listInstances(ctx.incidentId);
  await notifyOnce(ctx, rec, {
    type: how.event, severity: how.severity, summary: `${rec.host}: ${how.reason}`,
    ...(instances.length > 0 ? { instances } : {}),
  });
  return rec;
}
