import type { NotificationEvent, NotificationEventType, Severity } from './types.js';

interface EventInfo {
  /** The least severity this event carries, whatever the caller says: a fence failure is always critical. */
  readonly floor: Severity;
  /** Opt-in events reach a channel only when its `events` names them; `*` does not include them. */
  readonly optIn: boolean;
  readonly title: string;
}

export const EVENT_CATALOGUE: Readonly<Record<NotificationEventType, EventInfo>> = {
  'host-suspected': { floor: 'info', optIn: true, title: 'Host suspected down' },
  'incident-opened': { floor: 'warning', optIn: false, title: 'Host failure: recovery started' },
  'fence-failed': { floor: 'critical', optIn: false, title: 'Fencing failed: host NOT evacuated' },
  'double-writer': { floor: 'critical', optIn: false, title: 'Two writers on one disk after recovery' },
  'fence-confirmed': { floor: 'critical', optIn: false, title: 'Fence confirmed by an operator: evacuating' },
  'fence-breached': { floor: 'critical', optIn: false, title: 'Fenced host powered on again during recovery' },
  'storm-brake': { floor: 'critical', optIn: false, title: 'Storm brake: too many hosts look dead, no action taken' },
  'controller-isolated': { floor: 'critical', optIn: false, title: 'Controller isolated: no action taken' },
  'detector-stalled': { floor: 'critical', optIn: false, title: 'Detector stalled: no host is being watched' },
  'incident-resolved': { floor: 'info', optIn: false, title: 'Host failure: instances recovered' },
  'incident-partial': { floor: 'warning', optIn: false, title: 'Host failure: some instances NOT recovered' },
  'incident-failed': { floor: 'critical', optIn: false, title: 'Host failure: recovery FAILED' },
  'incident-aborted': { floor: 'warning', optIn: false, title: 'Host failure: recovery aborted' },
  'agent-down': { floor: 'warning', optIn: false, title: 'nova-compute down on a live host' },
  'isolated-mgmt': { floor: 'warning', optIn: false, title: 'Host lost its management network but is alive' },
  'inventory-suspicious': { floor: 'warning', optIn: false, title: 'Nova lists no servers on a failed host that had some' },
  'orphan-resumed': { floor: 'warning', optIn: false, title: 'Lost recovery found in Nova and resumed' },
  'capacity-wait': { floor: 'critical', optIn: false, title: 'Host failure: instances wait for room on another host' },
  'capacity-found': { floor: 'info', optIn: false, title: 'Host failure: a waiting instance found room and moves' },
  'instance-restarted': { floor: 'warning', optIn: false, title: 'VM failure: instance restarted on its host' },
  'instance-failed': { floor: 'critical', optIn: false, title: 'VM failure: instance NOT recovered' },
  'process-down': { floor: 'warning', optIn: false, title: 'A monitored process stopped on a host' },
  test: { floor: 'info', optIn: false, title: 'Test notification' },
};

export const EVENT_TYPES = Object.keys(EVENT_CATALOGUE) as NotificationEventType[];

export function isEventType(s: string): s is NotificationEventType {
  return Object.hasOwn(EVENT_CATALOGUE, s);
}

const RANK: Readonly<Record<Severity, number>> = { info: 0, warning: 1, critical: 2 };

export function severityAtLeast(s: Severity, min: Severity): boolean {
  return RANK[s] >= RANK[min];
}

/** The severity routing uses: the caller's, raised to the event type's floor. */
export function effectiveSeverity(event: Pick<NotificationEvent, 'type' | 'severity'>): Severity {
  const floor = EVENT_CATALOGUE[event.type]?.floor ?? 'info';
  return RANK[event.severity] >= RANK[floor] ? event.severity : floor;
}

/** Events after which instance owners hear where their instances went. */
export const USER_NOTICE_EVENTS: ReadonlySet<NotificationEventType> = new Set(['incident-resolved', 'incident-partial', 'incident-failed', 'instance-restarted', 'instance-failed']);
