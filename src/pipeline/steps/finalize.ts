import type { IncidentRecord, IncidentStatus, InstanceEntry } from '../../incidents/types.js';
import { isTerminalStatus } from '../../incidents/types.js';
import { networkAdvice } from '../../incidents/format.js';
import type { NotificationEventType, Severity } from '../../notifier/types.js';
import { formatDuration } from '../../shared/duration.js';
import { logNote, record, type StepContext } from './context.js';
import { notifyOnce } from './notify.js';
import { unlockAfterRecovery } from '../../evacuator/server-locks.js';

export interface Outcome {
  readonly status: Extract<IncidentStatus, 'resolved' | 'partial' | 'failed'>;
  readonly verified: number;
  /** Moved and ACTIVE, but their network did not come back: not a recovery. */
  readonly degraded: number;
  readonly failed: number;
  /** Left on the dead host by `[evacuation] states` (the operator's choice, not a failure). */
  readonly skipped: number;
  /** Left on the failed host by the evacuability policy: the operator's choice, not a failure. */
  readonly excluded: number;
  /** Left on the dead host because the cloud cannot move them: not recovered. */
  readonly stranded: number;
  readonly deleted: number;
  readonly unfinished: number;
}

/** Left on the dead host because the cloud cannot move it (not by the operator's policy): not a recovery. */
export function isStranded(e: Pick<InstanceEntry, 'state' | 'leftBy'>): boolean {
  return e.state === 'skipped' && e.leftBy === 'cloud';
}

/**
 * resolved: every server to move was verified, network (or the state it had) included; deleted ones and those the
 * operator's policy leaves in place are fine. partial: some were verified or at least run on another host
 * without their network (degraded), or none failed but some were left on the dead host because the cloud cannot
 * move them (a server left there is not recovered); failed: none moved and some failed.
 */
export function outcomeOf(instances: readonly InstanceEntry[]): Outcome {
  const count = (s: InstanceEntry['state']) => instances.filter((e) => e.state === s).length;
  const verified = count('verified');
  const degraded = count('degraded');
  const failed = count('failed');
  const stranded = instances.filter(isStranded).length;
  const skipped = count('skipped') - stranded;
  const excluded = count('excluded');
  const deleted = count('deleted');
  const unfinished = instances.length - verified - degraded - failed - skipped - stranded - excluded - deleted;
  const bad = degraded + failed + unfinished + stranded;
  const status = bad === 0 ? 'resolved' : verified + degraded > 0 || failed + unfinished === 0 ? 'partial' : 'failed';
  return { status, verified, degraded, failed, skipped, excluded, stranded, deleted, unfinished };
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
    await unlockAfterRecovery(ctx, instances);
    // From the host's last sign of life (what its users lived through), not from the first silent round.
    const lastVerified = Math.max(0, ...instances.map((e) => e.verifiedAt ?? 0));
    const failoverMs = lastVerified > 0 ? lastVerified - (rec.lastAliveAt ?? rec.failureStartedAt) : undefined;
    let closedHere = false;
    const closing = {
      step: 'close', level: out.status === 'resolved' ? 'info' : 'critical',
      message: `incident ${out.status}: ${out.verified} verified, ${out.degraded > 0 ? `${out.degraded} degraded (moved, without their network or their state), ` : ''}${out.failed + out.unfinished} failed, `
        + `${out.stranded > 0 ? `${out.stranded} left on the dead host (${instances.filter(isStranded).map((e) => `${e.name}: ${e.skipReason ?? 'cannot be moved'}`).join('; ')}), ` : ''}`
        + `${out.skipped} left in place, ${out.excluded > 0 ? `${out.excluded} left by policy, ` : ''}${out.deleted} deleted`
        + (failoverMs !== undefined ? `; failover took ${formatDuration(failoverMs)}` : ''),
    } as const;
    // The note is written with the close: a closed incident's timeline takes no entries from its recovery.
    rec = await ctx.store.update(ctx.incidentId, (r) => {
      closedHere = !isTerminalStatus(r.status);
      return closedHere ? { ...r, status: out.status, ...(failoverMs !== undefined ? { failoverMs } : {}) } : undefined;
    }, out.status, { timeline: [closing] });
    if (closedHere) {
      logNote(ctx, closing);
      ctx.metrics?.incidentsClosed?.inc({ outcome: out.status });
      ctx.metrics?.incidentsOpen?.dec();
      if (failoverMs !== undefined) {
        ctx.metrics?.failoverDuration?.observe({}, failoverMs / 1000);
        if (out.status !== 'failed') ctx.metrics?.lastFailover?.record({ host: rec.host, outcome: out.status, durationSeconds: failoverMs / 1000, at: Math.floor(lastVerified / 1000) });
      }
    }
    for (const s of rec.spares ?? []) await ctx.store.releaseSpare(s.host, ctx.incidentId);
  }
  if (rec.status === 'resolved' || rec.status === 'partial' || (rec.status === 'failed' && !rec.error)) {
    const ev = EVENT[rec.status];
    await notifyOnce(ctx, rec, {
      ...ev,
      summary: `${rec.host}: ${out.verified} of ${instances.length - out.skipped - out.excluded - out.deleted} instance(s) recovered`
        + (out.stranded > 0 ? ` (${out.stranded} left on the dead host)` : '')
        + (rec.failoverMs !== undefined ? ` in ${formatDuration(rec.failoverMs)}` : ''),
      details: failureDetails(instances),
      instances,
    });
  }
  return rec;
}

function failureDetails(instances: readonly InstanceEntry[]): string | undefined {
  const bad = instances.filter((e) => e.state === 'failed' || e.state === 'degraded' || e.state === 'pending' || e.state === 'awaiting_capacity' || e.state === 'evacuating' || e.state === 'evacuated' || isStranded(e));
  if (bad.length === 0) return undefined;
  return bad.map((e) => (isStranded(e) ? `${e.name} (${e.id}): LEFT on ${e.source} (was ${e.was?.status ?? '?'}): ${e.skipReason ?? 'cannot be moved'}`
    : e.state === 'degraded' && e.networkIssue === undefined ? `${e.name} (${e.id}): DEGRADED on ${e.target ?? '?'}: ${e.error ?? 'not in the state it had'}`
    : e.state === 'degraded'
    ? `${e.name} (${e.id}): DEGRADED on ${e.target ?? '?'}: ${e.error ?? 'network not back'}; look at ${networkAdvice(e.networkIssue, e.target)}`
    : `${e.name} (${e.id}): ${e.error ?? `left ${e.state}`}`)).join('\n');
}

/**
 * Ends an incident early (no fencing, fence failed, host alive again, a step gave up) and sends the notice
 * before returning, so a job that stops here cannot swallow it.
 */
export async function closeEarly(
  ctx: StepContext,
  how: {
    status: 'failed' | 'aborted'; code: string; reason: string; event: NotificationEventType; severity: Severity;
    /** Close only an incident in this status (say, one still waiting for a fence); otherwise leave it be, silently. */
    from?: IncidentStatus;
  },
): Promise<IncidentRecord> {
  // A deposed leader's failure is not the incident's: the new leader is working on it.
  await ctx.leadership?.assertLeading(ctx.signal);
  let rec = await record(ctx);
  if (how.from !== undefined && rec.status !== how.from) return rec;
  if (!isTerminalStatus(rec.status)) {
    let closedHere = false;
    const closing = { step: 'close', level: how.status === 'aborted' ? 'warning' : 'critical', message: `incident ${how.status}: ${how.reason}`, data: { code: how.code } } as const;
    if (how.from === undefined || rec.status === how.from) await unlockAfterRecovery(ctx, await ctx.store.listInstances(ctx.incidentId));
    rec = await ctx.store.update(ctx.incidentId, (r) => {
      closedHere = !isTerminalStatus(r.status) && (how.from === undefined || r.status === how.from);
      return closedHere ? { ...r, status: how.status, error: { code: how.code, message: how.reason } } : undefined;
    }, how.status, { timeline: [closing] });
    if (!closedHere && how.from !== undefined) return rec;
    if (closedHere) {
      logNote(ctx, closing);
      ctx.metrics?.incidentsClosed?.inc({ outcome: how.status });
      ctx.metrics?.incidentsOpen?.dec();
    }
    for (const s of rec.spares ?? []) await ctx.store.releaseSpare(s.host, ctx.incidentId);
  }
  const instances = await ctx.store.listInstances(ctx.incidentId);
  await notifyOnce(ctx, rec, {
    type: how.event, severity: how.severity, summary: `${rec.host}: ${how.reason}`,
    ...(instances.length > 0 ? { instances } : {}),
  });
  return rec;
}
