import { z } from 'zod';
import { list, oneOf } from './fields.js';

/**
 * `[notifier:NAME]`: one notification channel. Type-specific keys are validated per type by the notifier
 * module; the common keys are here.
 */
export const notifierSection = z
  .object({
    type: oneOf(['log', 'email', 'webhook'], 'log'),
    events: list(['*']),
    min_severity: oneOf(['info', 'warning', 'critical'], 'info'),
    audience: oneOf(['admins', 'users', 'oncall'], 'admins'),
    recipients: list(),
  })
  .catchall(z.union([z.string(), z.number(), z.boolean()]).transform((v) => String(v)));
export type RawNotifierSection = z.output<typeof notifierSection>;
