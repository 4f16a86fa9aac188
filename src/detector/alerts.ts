import { NOVA_NAMES, type CloudNames } from '../compute/types.js';
import type { NotificationEvent, NotificationEventType, Severity } from '../notifier/types.js';
import { describeSignals } from './signals.js';
import type { HostAction, HostReport, Verdict } from './types.js';

const ALERTING: Partial<Record<Verdict, { type: NotificationEventType; severity: Severity }>> = {
  'suspect': { type: 'host-suspected', severity: 'warning' },
  'unprobeable': { type: 'host-suspected', severity: 'warning' },
  'agent-down': { type: 'agent-down', severity: 'warning' },
  'isolated-mgmt': { type: 'isolated-mgmt', severity: 'warning' },
  'dead': { type: 'host-suspected', severity: 'critical' },
};

const HANDLED: ReadonlySet<HostAction> = new Set<HostAction>(['open-incident', 'incident-already-open', 'incident-exists', 'incident-waiting', 'incident-aborted']);

/** Everything readable says dead, but Nova's answers about the host's servers are unreadable: paged as critical. */
const UNRECOVERABLE = { type: 'host-suspected', severity: 'critical' } as const;

/** The notice's one line: what cmpha concluded, and which signals answered and which were silent. */
function summary(r: HostReport, names: CloudNames): string {
  return `${conclusion(r, names)} (${describeSignals(r.evidence)})`;
}

function conclusion(r: HostReport, { cloud, agent }: CloudNames): string {
  if (r.evidence.unrecoverable) {
    return `${r.host} looks dead (every address silent, no heartbeat) and cannot be recovered: ${r.evidence.unrecoverable}; cmpha keeps its hands off until ${cloud} lists its servers`;
  }
  if (r.verdict === 'dead' && r.held) return `${r.host} is confirmed dead and is not recovered: ${r.held}. Nothing is fenced or evacuated`;
  switch (r.verdict) {
    case 'agent-down': return `${agent} on ${r.host} is down but the host answers: fix the agent; cmpha will not fence it`;
    case 'isolated-mgmt': return `${r.host} lost its management network but another of its signals answers: cmpha will not fence it`;
    case 'unprobeable': return `${r.host} looks down in ${cloud} and has no management IP to check: cmpha cannot confirm and will not act`;
    case 'dead': return `${r.host} is confirmed dead but no incident was opened (${r.action})`;
    default: return `${r.host} is suspected down: confirming`;
  }
}

/**
 * Turns verdicts into alerts, one per host and verdict change rather than one per round. A host that
 * returns to healthy or maintenance clears its entry, so the next failure alerts again.
 */
export class AlertTracker {
  private readonly last = new Map<string, string>();

  constructor(private readonly names: CloudNames = NOVA_NAMES) {}

  events(reports: readonly HostReport[], now: number): NotificationEvent[] {
    const out: NotificationEvent[] = [];
    const present = new Set<string>();
    for (const r of reports) {
      present.add(r.host);
      const kind = r.evidence.unrecoverable ? UNRECOVERABLE : ALERTING[r.verdict];
      const key = r.evidence.unrecoverable ? `${r.verdict}:unrecoverable` : r.verdict;
      // A host whose incident is open or just opened is the recovery pipeline's to report; one whose incident cannot
      // act, is closed, or was just aborted has been paged by the actor with the incident named.
      const handled = HANDLED.has(r.action);
      if (!kind) {
        this.last.delete(r.host);
        continue;
      }
      if (this.last.get(r.host) === key) continue;
      this.last.set(r.host, key);
      if (handled) continue;
      out.push({
        type: kind.type,
        severity: kind.severity,
        host: r.host,
        summary: summary(r, this.names),
        details: r.evidence.reasons.join('\n'),
        at: now,
      });
    }
    for (const host of [...this.last.keys()]) if (!present.has(host)) this.last.delete(host);
    return out;
  }
}
