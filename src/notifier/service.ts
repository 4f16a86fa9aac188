import type { Redis } from 'ioredis';
import type { EscalationConfig, NotifierConfig } from '../config/types.js';
import type { IdentityApi } from '../openstack/types.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { systemClock, withTimeout, type Clock } from '../shared/time.js';
import { createMemoryAckStore, createRedisAckStore, type AckStore } from './ack.js';
import type { ChannelOptions } from './channel-options.js';
import { createChannel } from './channels/create-channel.js';
import { createDeliver, type Route } from './deliver.js';
import { Escalator } from './escalation.js';
import { effectiveSeverity, isEventType } from './events.js';
import { adminDeliveries, eventKey, userDeliveries, type FanOutDeps } from './fan-out.js';
import { createLimiter } from './limiter.js';
import { channelTakes } from './routing.js';
import { loadTemplateOverrides, NO_TEMPLATES, renderEventMessage, type CloudWords, type TemplateSet } from './templates.js';
import { createMemoryThrottle, createRedisThrottle, type ThrottleStore } from './throttle.js';
import type { Channel, DeliveryRecord, NotificationEvent, NotificationService } from './types.js';

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
  /** The cloud's words (the compute port's names) for the built-in titles and actions; Nova's when absent. */
  readonly cloudWords?: CloudWords;
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

/** Without any `[notifier:NAME]`, everything goes to the log, so no event is silent. */
export const DEFAULT_LOG_NOTIFIER: NotifierConfig = Object.freeze({
  name: 'log', type: 'log', events: ['*'], minSeverity: 'info', audience: 'admins', recipients: [], options: {},
});

const PER_CHANNEL_CONCURRENCY = 8;

/** The id a page shows for acknowledging it: the incident's, else one made from the event. */
const ackIdFor = (e: NotificationEvent) => e.incidentId ?? `${e.type}-${e.host ?? 'cluster'}-${Math.floor(e.at / 1000).toString(36)}`;

/** Repeats critical pages to the on-call channels that take them until acknowledged or max_repeats. */
function oncallEscalator(fan: FanOutDeps, routes: readonly Route[], acks: AckStore, onDelivery: NotificationServiceOptions['onDelivery']): Escalator {
  const { escalation: esc, logger, templates, words } = fan;
  return new Escalator({
    repeatEveryMs: esc.repeatEveryMs,
    maxRepeats: esc.maxRepeats,
    acks,
    logger,
    onDelivery,
    send: async (event, ackId, repeat) => {
      try {
        const message = renderEventMessage(event, { templates, ackId, repeat, ...(words ? { words } : {}) });
        const oncall = routes.filter((r) => r.config.audience === 'oncall' && channelTakes(r.config, event));
        return await adminDeliveries(fan, event, oncall, message, false);
      } catch (err) {
        logger.error({ err: errorMessage(err), notification: event.type }, 'escalation repeat failed');
        return [];
      }
    },
  });
}

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
  const fan: FanOutDeps = {
    deliver: createDeliver({ throttle, escalation: esc, clock, logger, stopping: stopping.signal }),
    escalation: esc, templates, clock, logger, ...(opts.identity ? { identity: opts.identity } : {}), ...(opts.cloudWords ? { words: opts.cloudWords } : {}),
  };
  const escalator = oncallEscalator(fan, routes, acks, opts.onDelivery);

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
      const message = renderEventMessage(event, { templates, ackId, ...(opts.cloudWords ? { words: opts.cloudWords } : {}) });
      const signal = withTimeout(Math.max(...routes.map((r) => r.channel.budgetMs)) + 30_000, stopping.signal);
      const [admin, users] = await Promise.all([adminDeliveries(fan, event, selected, message, true), userDeliveries(fan, routes, event, signal)]);
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
      return adminDeliveries(fan, event, selected, message, false);
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
