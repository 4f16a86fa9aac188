import type { NotifierConfig } from '../config/types.js';
import { EVENT_CATALOGUE, effectiveSeverity, severityAtLeast } from './events.js';
import type { NotificationEvent } from './types.js';

/**
 * Whether a channel takes an event: named in its `events` (`*` covers all but opt-in events such as
 * host-suspected), at or above its `min_severity`. On-call channels page a person, so they take critical
 * events only, whatever their min_severity says.
 */
export function channelTakes(cfg: Pick<NotifierConfig, 'events' | 'minSeverity' | 'audience'>, event: Pick<NotificationEvent, 'type' | 'severity'>): boolean {
  const listed = cfg.events.includes(event.type) || (cfg.events.includes('*') && !EVENT_CATALOGUE[event.type].optIn);
  if (!listed) return false;
  const sev = effectiveSeverity(event);
  if (cfg.audience === 'oncall' && sev !== 'critical') return false;
  return severityAtLeast(sev, cfg.minSeverity);
}
