import type { Logger } from '../../shared/logger.js';
import type { LogChannelOptions } from '../channel-options.js';
import type { Channel, RenderedMessage } from '../types.js';

const BY_SEVERITY = { info: 'info', warning: 'warn', critical: 'error' } as const;

/** Writes notifications to the log: the channel that always exists, so nothing cmpha does is silent. */
export function createLogChannel(name: string, options: LogChannelOptions, logger: Logger): Channel {
  const log = logger.child({ channel: name });
  return {
    name,
    kind: 'log',
    budgetMs: 1000,
    async send(message: RenderedMessage, recipient: string) {
      const level = options.level ?? BY_SEVERITY[message.severity];
      // The whole line, details and what to do next: a log has no 160-character limit to fit.
      log[level](
        {
          notification: message.event, severity: message.severity, host: message.vars.host || undefined, incident: message.vars.incident || undefined,
          recipient, subject: message.subject, details: message.vars.details || undefined, action: message.vars.action || undefined,
        },
        message.line,
      );
      return { attempts: 1 };
    },
  };
}
