import type { EscalationConfig } from '../config/types.js';
import type { IdentityApi } from '../openstack/types.js';
import type { Logger } from '../shared/logger.js';
import type { Clock } from '../shared/time.js';
import { resolveOwners, userLookup } from './affected-users.js';
import { HOUR_MS, recipientsOf, type Deliver, type Route } from './deliver.js';
import { effectiveSeverity, USER_NOTICE_EVENTS } from './events.js';
import { channelTakes } from './routing.js';
import { renderUserNotice, type CloudWords, type TemplateSet } from './templates.js';
import type { DeliveryRecord, NotificationEvent, RenderedMessage } from './types.js';

// Who gets a message: every recipient of the admin and on-call channels an event is routed to, and the owners
// of the instances it names through the user channels.

export interface FanOutDeps {
  readonly deliver: Deliver;
  readonly escalation: EscalationConfig;
  readonly templates: TemplateSet;
  /** The cloud's words for the built-in titles and actions (Nova's when absent). */
  readonly words?: CloudWords;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly identity?: IdentityApi;
}

/** One message per owner per incident, however many events the incident produces. */
const USER_NOTICE_TTL_MS = 30 * 24 * HOUR_MS;

/** What makes two events the same for dedup and escalation. */
export const eventKey = (e: NotificationEvent): string => `${e.type}|${e.host ?? ''}|${e.incidentId ?? ''}`;

/** Sends `message` to every recipient of the `selected` routes; with `dedup`, once per event and recipient within the window. */
export async function adminDeliveries(deps: FanOutDeps, event: NotificationEvent, selected: readonly Route[], message: RenderedMessage, dedup: boolean): Promise<DeliveryRecord[]> {
  const tasks: Promise<DeliveryRecord>[] = [];
  for (const r of selected) {
    const recipients = recipientsOf(r);
    if (recipients.length === 0) {
      tasks.push(Promise.resolve({ channel: r.config.name, recipient: '', event: event.type, ok: false, skipped: 'no-recipient', attempts: 0, at: deps.clock.now(), error: `[notifier:${r.config.name}] has no recipients` }));
    }
    for (const to of recipients) {
      // The severity is part of what is the same: a host first suspected (warning) and then confirmed dead and held back
      // (critical) is news the second time, not a repeat.
      const key = dedup && event.type !== 'test' ? { key: `${eventKey(event)}|${effectiveSeverity(event)}|${r.config.name}|${to}`, ttlMs: deps.escalation.dedupWindowMs } : undefined;
      tasks.push(deps.deliver(r, to, message, key));
    }
  }
  return Promise.all(tasks);
}

/** Tells the owners of the event's instances, through each user channel that takes it (SMS only when enabled). */
export async function userDeliveries(deps: FanOutDeps, routes: readonly Route[], event: NotificationEvent, signal: AbortSignal): Promise<DeliveryRecord[]> {
  const esc = deps.escalation;
  if (!esc.notifyUsers || !USER_NOTICE_EVENTS.has(event.type) || !event.instances?.length) return [];
  const lookup = userLookup(deps.identity, deps.logger, signal);
  const tasks: Promise<DeliveryRecord[]>[] = [];
  for (const r of routes) {
    if (r.config.audience !== 'users' || !channelTakes(r.config, event)) continue;
    const phone = r.channel.kind === 'webhook';
    if (phone && !esc.notifyUsersSms) continue;
    tasks.push(noticeOwners(deps, r, event, phone, lookup));
  }
  return (await Promise.all(tasks)).flat();
}

async function noticeOwners(deps: FanOutDeps, r: Route, event: NotificationEvent, phone: boolean, lookup: ReturnType<typeof userLookup>): Promise<DeliveryRecord[]> {
  const esc = deps.escalation;
  const { owners, unresolved } = await resolveOwners(event.instances!, {
    kind: phone ? 'phone' : 'email',
    metadataKey: phone ? esc.userMetadataPhoneKey : esc.userMetadataEmailKey,
    lookup,
  });
  const missing: DeliveryRecord[] = unresolved.map((u) => ({
    channel: r.config.name, recipient: `user:${u.instance.userId}`, event: event.type, ok: false, skipped: 'no-recipient', attempts: 0, at: deps.clock.now(), error: `${u.reason} (instance ${u.instance.id})`,
  }));
  const sent = await Promise.all(owners.map((owner) => {
    const message = renderUserNotice(event, owner, { templates: deps.templates });
    const key = event.incidentId
      ? { key: `user-notice|${event.incidentId}|${r.config.name}|${owner.recipient}`, ttlMs: USER_NOTICE_TTL_MS }
      : { key: `user-notice|${eventKey(event)}|${r.config.name}|${owner.recipient}`, ttlMs: esc.dedupWindowMs };
    return deps.deliver(r, owner.recipient, message, key);
  }));
  return [...missing, ...sent];
}
