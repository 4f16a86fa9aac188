import type { DeliveryRecord, NotificationEvent, NotificationEventType, NotificationService } from '../../src/notifier/types.js';

/** A notifier that keeps every event it is handed, in order, and delivers nothing. */
export class RecordingNotifier implements NotificationService {
  readonly events: NotificationEvent[] = [];
  async notify(event: NotificationEvent): Promise<readonly DeliveryRecord[]> {
    this.events.push(event);
    return [];
  }
  /** The events of one type (and host, when given). */
  of(type: NotificationEventType, host?: string): NotificationEvent[] {
    return this.events.filter((e) => e.type === type && (host === undefined || e.host === host));
  }
}
