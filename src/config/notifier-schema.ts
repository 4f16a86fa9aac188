import { defineSection, key } from './declare.js';
import { list, oneOf } from './fields.js';

/**
 * `[notifier:NAME]`: one notification channel. The keys common to every channel are declared here; the keys of
 * each channel type are declared and validated by src/notifier (channel-keys.ts), which the loader calls.
 */
export const notifierSectionDecl = defineSection(
  'notifier:NAME',
  'One notification channel. With no notifier configured, notifications go to the log. The keys below are common to every type; each type\'s own keys follow (docs/notifications.md has examples).',
  {
    type: key('type', oneOf(['log', 'email', 'webhook'], 'log'), 'log, email or webhook.', { example: 'log' }),
    events: key('events', list(['*']), 'Comma-separated events this channel takes (* = all).'),
    minSeverity: key('min_severity', oneOf(['info', 'warning', 'critical'], 'info'), 'info, warning or critical.'),
    audience: key('audience', oneOf(['admins', 'users', 'oncall'], 'admins'), 'admins, users (owners of affected instances) or oncall (escalation).'),
    recipients: key('recipients', list(), 'Comma-separated addresses or numbers (admins and oncall).'),
  },
  { passthrough: true },
);

/** The INI shape of the common `[notifier:NAME]` keys. */
export const notifierSection = notifierSectionDecl.object;
