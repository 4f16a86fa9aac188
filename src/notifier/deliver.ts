import type { EscalationConfig, NotifierConfig } from '../config/types.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { withTimeout, type Clock } from '../shared/time.js';
import { hasOwnTarget, type ChannelOptions } from './channel-options.js';
import { ChannelError } from './retry.js';
import type { ThrottleStore } from './throttle.js';
import type { Channel, DeliveryRecord, RenderedMessage } from './types.js';

/** One configured channel, with its own limit on concurrent sends. */
export interface Route {
  readonly config: NotifierConfig;
  readonly options: ChannelOptions;
  readonly channel: Channel;
  readonly run: <T>(task: () => Promise<T>) => Promise<T>;
}

/** A dedup claim: the same key within `ttlMs` is sent once. */
export interface DedupKey {
  readonly key: string;
  readonly ttlMs: number;
}

/** Sends one message to one recipient through one route; never throws, the record says what happened. */
export type Deliver = (r: Route, recipient: string, message: RenderedMessage, dedup?: DedupKey) => Promise<DeliveryRecord>;

export interface DeliverDeps {
  readonly throttle: ThrottleStore;
  readonly escalation: Pick<EscalationConfig, 'rateLimitPerHour'>;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Aborts every send in flight when the notifier stops. */
  readonly stopping: AbortSignal;
}

export const HOUR_MS = 3_600_000;

/** The route's configured recipients; a log channel or a chat webhook is its own destination, named after the channel. */
export function recipientsOf(r: Route): string[] {
  if (r.config.recipients.length > 0) return [...r.config.recipients];
  if (r.channel.kind === 'log' || hasOwnTarget(r.options)) return [r.config.name];
  return [];
}

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

/** Delivery with dedup, the per-recipient rate limit and the channel's time budget (log channels skip the first two). */
export function createDeliver(deps: DeliverDeps): Deliver {
  const { throttle, clock, logger } = deps;
  const rateLimit = deps.escalation.rateLimitPerHour;
  return async (r, recipient, message, dedup) => {
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
      if (!isLog && !(await throttle.take(recipient, rateLimit, HOUR_MS, clock.now()))) {
        if (claimed) await throttle.release(dedup!.key);
        logger.warn({ channel: r.config.name, recipient, notification: message.event }, 'notification dropped: rate limit reached');
        return { ...base, ok: false, skipped: 'rate-limited', attempts: 0, at: clock.now(), error: `rate limit: ${rateLimit} messages to ${recipient} in the last hour already` };
      }
      const result = await r.run(() => {
        const signal = withTimeout(r.channel.budgetMs, deps.stopping);
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
  };
}
