export type Severity = 'info' | 'warning' | 'critical';

export type NotificationEventType =
  | 'host-suspected'
  | 'incident-opened'
  | 'fence-failed'
  | 'double-writer'
  | 'fence-confirmed'
  | 'fence-breached'
  | 'storm-brake'
  | 'controller-isolated'
  | 'detector-stalled'
  | 'incident-resolved'
  | 'incident-partial'
  | 'incident-failed'
  | 'incident-aborted'
  | 'agent-down'
  | 'isolated-mgmt'
  | 'inventory-suspicious'
  | 'orphan-resumed'
  | 'capacity-wait'
  | 'capacity-found'
  | 'instance-restarted'
  | 'instance-failed'
  | 'process-down'
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
  /** Last sign of life before the failure and first answer on the new host (epoch ms), when measured. */
  readonly downFrom?: number;
  readonly backAt?: number;
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
  /** Set when nothing was sent: a duplicate (already delivered, ok true), rate limited or no address (ok false). */
  readonly skipped?: DeliverySkip;
}

/** What the pipeline and detector call. Never throws: a failed channel is recorded, not raised. */
export interface NotificationService {
  notify(event: NotificationEvent): Promise<readonly DeliveryRecord[]>;
}

/** Why a delivery was not attempted. A duplicate was already delivered; a rate-limited one was dropped. */
export type DeliverySkip = 'duplicate' | 'rate-limited' | 'no-recipient';

/** Who a channel speaks to: admins (fixed recipients), instance owners, or the on-call person (escalated). */
export type Audience = 'admins' | 'users' | 'oncall';

/** One message in every form a channel may need; rendered once per event (or per owner for user notices). */
export interface RenderedMessage {
  readonly event: NotificationEventType;
  readonly severity: Severity;
  readonly subject: string;
  /** Plain-text body. */
  readonly text: string;
  /** HTML body; every interpolated value is HTML-escaped. */
  readonly html: string;
  /** One line, ASCII, at most 160 characters. */
  readonly sms: string;
  /** The same line as `sms` without the 160-character limit (the log channel's message). */
  readonly line: string;
  /** The values the message was built from, for webhook body templates. Never holds secrets. */
  readonly vars: Readonly<Record<string, string>>;
}

export interface ChannelSendResult {
  readonly attempts: number;
}

/** A transport. `send` delivers one message to one recipient or throws a ChannelError (which says how many attempts). */
export interface Channel {
  readonly name: string;
  readonly kind: 'log' | 'email' | 'webhook';
  /** Upper bound for one `send`, retries included; the service aborts the signal after it. */
  readonly budgetMs: number;
  send(message: RenderedMessage, recipient: string, signal: AbortSignal): Promise<ChannelSendResult>;
}
