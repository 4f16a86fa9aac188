import { Writable } from 'node:stream';
import type { EscalationConfig, NotifierConfig } from '../../../src/config/types.js';
import type { Secret } from '../../../src/config/secret.js';
import { createLogger, type Logger } from '../../../src/shared/logger.js';
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

/** A real pino logger (with the project's redaction) whose JSON lines are kept for assertions. */
export function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  let buf = '';
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      buf += chunk.toString();
      const parts = buf.split('\n');
      buf = parts.pop() ?? '';
      lines.push(...parts.filter((l) => l.length > 0));
      cb();
    },
  });
  return { logger: createLogger({ level: 'debug', destination }), lines };
}
