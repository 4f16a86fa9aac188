export type Severity = 'info' | 'warning' | 'critical';

export type NotificationEventType =
  | 'host-suspected'
  | 'incident-opened'
  | 'fence-failed'
  | 'storm-brake'
  | 'controller-isolated'
  | 'incident-resolved'
  | 'incident-partial'
  | 'incident-failed'
  | 'incident-aborted'
  | 'agent-down'
  | 'isolated-mgmt'
  | 'test';

export interface AffectedInstance {
  readonly id: string;
  readonly name: string;
  readonly projectId: string;
  readonly userId: string;
  readonly sourceHost: string;
  readonly targetHost: string | null;
  readonly state: string;
  readonly downtimeMs?: number;
  readonly error?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

/** What happened, as the pipeline and detector report it. Templates turn it into words. */
export interface NotificationEvent {
  readonly type: NotificationEventType;
  readonly severity: Severity;
  readonly host?: string;
  readonly incidentId?: string;
  readonly summary: string;
  readonly details?: string;
  readonly instances?: readonly AffectedInstance[];
  readonly at: number;
}

/** The record of one send attempt, stored on the incident. */
export interface DeliveryRecord {
  readonly channel: string;
  readonly recipient: string;
  readonly event: NotificationEventType;
  readonly ok: boolean;
  readonly error?: string;
  readonly at: number;
  readonly attempts: number;
}

/** What the pipeline and detector call. Never throws: a failed channel is recorded, not raised. */
export interface NotificationService {
  notify(event: NotificationEvent): Promise<readonly DeliveryRecord[]>;
}
