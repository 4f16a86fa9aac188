import type { Redis } from 'ioredis';
import type { EscalationConfig, NotifierConfig } from '../config/types.js';
import type { IdentityApi } from '../openstack/types.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { systemClock, withTimeout, type Clock } from '../shared/time.js';
import { createMemoryAckStore, createRedisAckStore, type AckStore } from './ack.js';
import { resolveOwners, userLookup } from './affected-users.js';
import { hasOwnTarget, type ChannelOptions } from './channel-options.js';
import { createChannel } from './channels/create-channel.js';
import { Escalator } from './escalation.js';
import { effectiveSeverity, isEventType, USER_NOTICE_EVENTS } from './events.js';
import { createLimiter } from './limiter.js';
import { ChannelError } from './retry.js';
import { channelTakes } from './routing.js';
import { loadTemplateOverrides, NO_TEMPLATES, renderEventMessage, renderUserNotice, type TemplateSet } from './templates.js';
import { createMemoryThrottle, createRedisThrottle, type ThrottleStore } from './throttle.js';
import type { Channel, DeliveryRecord, NotificationEvent, NotificationService, RenderedMessage } from './types.js';

export interface NotificationServiceOptions {
  readonly notifiers: readonly NotifierConfig[];
  readonly escalation: EscalationConfig;
  /** Looks up instance owners' email addresses. Without it, only the metadata key can give one. */
  readonly identity?: IdentityApi;
  /** Holds acknowledgements, dedup claims and rate counters. Without it they live in this process only. */
  readonly redis?: Redis;
  /** Redis key prefix (config `[redis] prefix`); acknowledgements are `<prefix>:ack:<incidentId>`. */
  readonly keyPrefix?: string;
  /** How long one Redis command may take before the notifier carries on without it (default 2 s). */
  readonly redisTimeoutMs?: number;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Receives the records of escalation repeats, which happen after `notify` has returned. */
  readonly onDelivery?: (records: readonly DeliveryRecord[], event: NotificationEvent) => void;
  /** Replaces how a channel is built from its config (tests count calls through it). */
  readonly channelFactory?: (notifier: NotifierConfig, logger: Logger) => { channel: Channel; options: ChannelOptions };
}

export interface CmphaNotificationService extends NotificationService {
  /** Stops the repeats of every escalation for `incidentId` (or the ack id a non-incident page showed). */
  acknowledge(incidentId: string, by: string): Promise<void>;
  /** Sends a `test` event through every channel (or the named one) to its configured recipients, ignoring routing and dedup. */
  sendTest(opts?: { channel?: string }): Promise<readonly DeliveryRecord[]>;
  channelNames(): readonly string[];
  /** Keys of the escalations still repeating. */
  activeEscalations(): readonly string[];
  /** Resolves when no escalation is running (each ends by itself after max_repeats). */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

interface Route {
  readonly config: NotifierConfig;
  readonly options: ChannelOptions;
  readonly channel: Channel;
  readonly run: <T>(task: () => Promise<T>) => Promise<T>;
}

const HOUR_MS = 3_600_000;
/** One message per owner per incident, however many events the incident produces. */
const USER_NOTICE_TTL_MS = 30 * 24 * HOUR_MS;
const PER_CHANNEL_CONCURRENCY = 8;

/** Settles with `work`, or rejects when `signal` aborts: a channel that ignores its signal still cannot hold us up. */
function boundedBy<T>(signal: AbortSignal, work: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      const reason = signal.reason as unknown;
      reject(new ChannelError('notify_timeout', reason instanceof Error && reason.name === 'TimeoutError' ? 'gave up: channel time budget used up' : `aborted: ${errorMessage(reason)}`, 1));
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (e: unknown) => { signal.removeEventListener('abort', onAbort); reject(e); },
    );
  });
}

/** Without any `[notifier:NAME]`, everything goes to the log, so no event is silent. */
export const DEFAULT_LOG_NOTIFIER: NotifierConfig = Object.freeze({
  name: 'log', type: 'log', events: ['*'], minSeverity: 'info', audience: 'admins', recipients: [], options: {},
});

/**
 * Builds every channel from config (throws on bad channel options or templates: call it at start-up).
 * `notify` never throws and never waits longer than the slowest channel's own budget.
 */
export function createNotificationService(opts: NotificationServiceOptions): CmphaNotificationService {
  const logger = opts.logger.child({ component: 'notifier' });
  const clock = opts.clock ?? systemClock;
  const esc = opts.escalation;
  const prefix = opts.keyPrefix ?? 'cmpha';
  const factory = opts.channelFactory ?? createChannel;
  const notifiers = opts.notifiers.length > 0 ? opts.notifiers : [DEFAULT_LOG_NOTIFIER];
  const routes: Route[] = notifiers.map((config) => ({ config, ...factory(config, logger), run: createLimiter(PER_CHANNEL_CONCURRENCY) }));
  const templates: TemplateSet = esc.templateDir ? loadTemplateOverrides(esc.templateDir) : NO_TEMPLATES;
  const throttle: ThrottleStore = opts.redis ? createRedisThrottle(opts.redis, prefix, logger, opts.redisTimeoutMs) : createMemoryThrottle();
  const acks: AckStore = opts.redis ? createRedisAckStore(opts.redis, prefix, opts.redisTimeoutMs) : createMemoryAckStore();
  const stopping = new AbortController();
  if (!opts.redis && routes.some((r) => r.config.audience === 'oncall')) {
    logger.warn('no Redis: acknowledgements, dedup and rate limits live in this process only');
  }

  function recipientsOf(r: Route): string[] {
    if (r.config.recipients.length > 0) return [...r.config.recipients];
    // A log channel or a chat webhook is its own destination; name it after the channel.
    if (r.channel.kind === 'log' || hasOwnTarget(r.options)) return [r.config.name];
    return [];
  }

  async function deliver(
    r: Route,
    recipient: string,
    message: RenderedMessage,
    dedup?: { key: string; ttlMs: number },
  ): Promise<DeliveryRecord> {
    const base = { channel: r.config.name, recipient, event: message.event };
    const isLog = r.channel.kind === 'log';
    let claimed = false;
    try {
      if (dedup && dedup.ttlMs > 0 && !isLog) {
        if (!(await throttle.claim(dedup.key, dedup.ttlMs, clock.now()))) {
          return { ...base, ok: true, skipped: 'duplicate', attempts: 0, at: clock.now() };
        }
        claimed = true;
      }
      if (!isLog && !(await throttle.take(recipient, esc.rateLimitPerHour, HOUR_MS, clock.now()))) {
        if (claimed) await throttle.release(dedup!.key);
        logger.warn({ channel: r.config.name, recipient, notification: message.event }, 'notification dropped: rate limit reached');
        return { ...base, ok: false, skipped: 'rate-limited', attempts: 0, at: clock.now(), error: `rate limit: ${esc.rateLimitPerHour} messages to ${recipient} in the last hour already` };
      }
      const result = await r.run(() => {
        const signal = withTimeout(r.channel.budgetMs, stopping.signal);
        return boundedBy(signal, r.channel.send(message, recipient, signal));
      });
      return { ...base, ok: true, attempts: result.attempts, at: clock.now() };
    } catch (err) {
      if (claimed) await throttle.release(dedup!.key).catch(() => undefined);
      const attempts = err instanceof ChannelError ? err.attempts : 1;
      const error = errorMessage(err);
      logger.warn({ channel: r.config.name, recipient, notification: message.event, attempts, error }, 'notification failed');
      return { ...base, ok: false, attempts, error, at: clock.now() };
    }
  }

  const eventKey = (e: NotificationEvent) => `${e.type}|${e.host ?? ''}|${e.incidentId ?? ''}`;
  const ackIdFor = (e: NotificationEvent) => e.incidentId ?? `${e.type}-${e.host ?? 'cluster'}-${Math.floor(e.at / 1000).toString(36)}`;

  async function adminDeliveries(event: NotificationEvent, selected: Route[], message: RenderedMessage, dedup: boolean): Promise<DeliveryRecord[]> {
    const tasks: Promise<DeliveryRecord>[] = [];
    for (const r of selected) {
      const recipients = recipientsOf(r);
      if (recipients.length === 0) {
        tasks.push(Promise.resolve({ channel: r.config.name, recipient: '', event: event.type, ok: false, skipped: 'no-recipient', attempts: 0, at: clock.now(), error: `[notifier:${r.config.name}] has no recipients` }));
      }
      for (const to of recipients) {
        const key = dedup && event.type !== 'test' ? { key: `${eventKey(event)}|${r.config.name}|${to}`, ttlMs: esc.dedupWindowMs } : undefined;
        tasks.push(deliver(r, to, message, key));
      }
    }
    return Promise.all(tasks);
  }

  async function userDeliveries(event: NotificationEvent, signal: AbortSignal): Promise<DeliveryRecord[]> {
    if (!esc.notifyUsers || !USER_NOTICE_EVENTS.has(event.type) || !event.instances?.length) return [];
    const lookup = userLookup(opts.identity, logger, signal);
    const tasks: Promise<DeliveryRecord[]>[] = [];
    for (const r of routes) {
      if (r.config.audience !== 'users' || !channelTakes(r.config, event)) continue;
      const phone = r.channel.kind === 'webhook';
      if (phone && !esc.notifyUsersSms) continue;
      tasks.push((async () => {
        const { owners, unresolved } = await resolveOwners(event.instances!, {
          kind: phone ? 'phone' : 'email',
          metadataKey: phone ? esc.userMetadataPhoneKey : esc.userMetadataEmailKey,
          lookup,
        });
        const missing: DeliveryRecord[] = unresolved.map((u) => ({
          channel: r.config.name, recipient: `user:${u.instance.userId}`, event: event.type, ok: false, skipped: 'no-recipient', attempts: 0, at: clock.now(), error: `${u.reason} (instance ${u.instance.id})`,
        }));
        const sent = await Promise.all(owners.map((owner) => {
          const message = renderUserNotice(event, owner, { templates });
          const key = event.incidentId
            ? { key: `user-notice|${event.incidentId}|${r.config.name}|${owner.recipient}`, ttlMs: USER_NOTICE_TTL_MS }
            : { key: `user-notice|${eventKey(event)}|${r.config.name}|${owner.recipient}`, ttlMs: esc.dedupWindowMs };
          return deliver(r, owner.recipient, message, key);
        }));
        return [...missing, ...sent];
      })());
    }
    return (await Promise.all(tasks)).flat();
  }

  const escalator = new Escalator({
    repeatEveryMs: esc.repeatEveryMs,
    maxRepeats: esc.maxRepeats,
    acks,
    logger,
    onDelivery: opts.onDelivery,
    send: async (event, ackId, repeat) => {
      try {
        const message = renderEventMessage(event, { templates, ackId, repeat });
        const oncall = routes.filter((r) => r.config.audience === 'oncall' && channelTakes(r.config, event));
        return await adminDeliveries(event, oncall, message, false);
      } catch (err) {
        logger.error({ err: errorMessage(err), notification: event.type }, 'escalation repeat failed');
        return [];
      }
    },
  });

  async function notify(event: NotificationEvent): Promise<readonly DeliveryRecord[]> {
    try {
      if (!isEventType(event.type)) {
        logger.error({ notification: String(event.type) }, 'unknown notification event; not sent');
        return [];
      }
      const critical = effectiveSeverity(event) === 'critical';
      const selected = routes.filter((r) => r.config.audience !== 'users' && channelTakes(r.config, event));
      const escalates = critical && esc.maxRepeats > 0 && selected.some((r) => r.config.audience === 'oncall');
      const ackId = escalates ? ackIdFor(event) : undefined;
      const message = renderEventMessage(event, { templates, ackId });
      const signal = withTimeout(Math.max(...routes.map((r) => r.channel.budgetMs)) + 30_000, stopping.signal);
      const [admin, users] = await Promise.all([adminDeliveries(event, selected, message, true), userDeliveries(event, signal)]);
      if (escalates && ackId && !stopping.signal.aborted) {
        const already = await acks.get(ackId).catch(() => null);
        if (!already && admin.some((d) => d.skipped !== 'duplicate')) escalator.start(eventKey(event), ackId, event);
      }
      return [...admin, ...users];
    } catch (err) {
      logger.error({ err: errorMessage(err), notification: event.type }, 'notification failed unexpectedly');
      return [];
    }
  }

  return {
    notify,
    async acknowledge(incidentId, by) {
      await acks.acknowledge(incidentId, by);
      escalator.acknowledged(incidentId);
      logger.info({ incident: incidentId, by }, 'acknowledged');
    },
    async sendTest(o = {}) {
      const selected = o.channel === undefined ? routes : routes.filter((r) => r.config.name === o.channel);
      const event: NotificationEvent = {
        type: 'test', severity: 'info', at: clock.now(),
        summary: 'Test message from cmpha: if you read this, this channel works.',
      };
      const message = renderEventMessage(event, { templates });
      return adminDeliveries(event, selected, message, false);
    },
    channelNames: () => routes.map((r) => r.config.name),
    activeEscalations: () => escalator.active(),
    settled: () => escalator.settled(),
    async stop() {
      stopping.abort(new Error('notifier stopped'));
      await escalator.stop();
    },
  };
}
