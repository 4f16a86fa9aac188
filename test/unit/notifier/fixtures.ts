import type { EscalationConfig, NotifierConfig } from '../../../src/config/types.js';
import type { Secret } from '../../../src/config/secret.js';
import type { AffectedInstance, NotificationEvent } from '../../../src/notifier/types.js';

export function notifier(over: Partial<NotifierConfig> & { options?: Record<string, string | Secret> }): NotifierConfig {
  return { name: 'n', type: 'log', events: ['*'], minSeverity: 'info', audience: 'admins', recipients: [], options: {}, ...over };
}

export function escalation(over: Partial<EscalationConfig> = {}): EscalationConfig {
  return { repeatEveryMs: 900_000, maxRepeats: 4, dedupWindowMs: 1_800_000, rateLimitPerHour: 30, notifyUsers: true, notifyUsersSms: false, ...over };
}

export function instance(over: Partial<AffectedInstance> = {}): AffectedInstance {
  return { id: 'a1b2c3d4-0000-4000-8000-000000000001', name: 'web-1', projectId: 'p1', userId: 'u1', sourceHost: 'cmp-3', targetHost: 'cmp-7', state: 'ACTIVE', downtimeMs: 130_000, ...over };
}

export function event(over: Partial<NotificationEvent> = {}): NotificationEvent {
  return { type: 'incident-resolved', severity: 'info', host: 'cmp-3', incidentId: 'inc-42', summary: 'cmp-3 died; 1 instance evacuated', at: Date.UTC(2024, 4, 1, 3, 14, 0), ...over };
}

export { captureLogger } from '../../helpers/capture-logger.js';
