import type { Redis } from 'ioredis';
import type { Logger } from '../shared/logger.js';
import { beforeDeadline, REDIS_DEADLINE_MS } from './deadline.js';

/**
 * Remembers what was sent so a flapping host cannot flood anyone: `claim` is the dedup check (first caller
 * within the window wins), `take` the per-recipient hourly budget. Kept in Redis when there is one, so a
 * controller restart or a leader change does not resend everything.
 */
export interface ThrottleStore {
  /** True when `key` was not claimed within `ttlMs`; claims it. */
  claim(key: string, ttlMs: number, now: number): Promise<boolean>;
  /** Gives a claim back, so a failed delivery may be tried again by the next event. */
  release(key: string): Promise<void>;
  /** Counts one message to `recipient` unless `limit` were already counted in the last `windowMs`. */
  take(recipient: string, limit: number, windowMs: number, now: number): Promise<boolean>;
}

export function createMemoryThrottle(): ThrottleStore {
  const claims = new Map<string, number>();
  const sent = new Map<string, number[]>();
  return {
    async claim(key, ttlMs, now) {
      const until = claims.get(key);
      if (until !== undefined && until > now) return false;
      claims.set(key, now + ttlMs);
      if (claims.size > 10_000) for (const [k, u] of claims) if (u <= now) claims.delete(k);
      return true;
    },
    async release(key) {
      claims.delete(key);
    },
    async take(recipient, limit, windowMs, now) {
      const recent = (sent.get(recipient) ?? []).filter((t) => t > now - windowMs);
      if (recent.length >= limit) {
        sent.set(recipient, recent);
        return false;
      }
      recent.push(now);
      sent.set(recipient, recent);
      return true;
    },
  };
}

// Sliding window in a sorted set, atomic so two sends racing cannot both take the last slot.
const TAKE_SCRIPT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

/**
 * Redis-backed store. When Redis fails it falls back to memory: a duplicate message is better than a
 * missing one.
 */
export function createRedisThrottle(redis: Redis, prefix: string, logger: Logger, deadlineMs = REDIS_DEADLINE_MS): ThrottleStore {
  const fallback = createMemoryThrottle();
  const dedupKey = (k: string) => `${prefix}:notify:dedup:${k}`;
  const rateKey = (r: string) => `${prefix}:notify:rate:${r}`;
  let seq = 0;
  const warn = (err: unknown) => logger.warn({ err: (err as Error).message }, 'notification throttle: Redis unavailable, using memory');
  return {
    async claim(key, ttlMs, now) {
      if (ttlMs <= 0) return true;
      try {
        return (await beforeDeadline(redis.set(dedupKey(key), String(now), 'PX', ttlMs, 'NX'), deadlineMs, 'Redis SET')) === 'OK';
      } catch (err) {
        warn(err);
        return fallback.claim(key, ttlMs, now);
      }
    },
    async release(key) {
      await fallback.release(key);
      try {
        await beforeDeadline(redis.del(dedupKey(key)), deadlineMs, 'Redis DEL');
      } catch (err) {
        warn(err);
      }
    },
    async take(recipient, limit, windowMs, now) {
      try {
        const member = `${now}-${process.pid}-${++seq}`;
        return (await beforeDeadline(redis.eval(TAKE_SCRIPT, 1, rateKey(recipient), now, windowMs, limit, member), deadlineMs, 'Redis EVAL')) === 1;
      } catch (err) {
        warn(err);
        return fallback.take(recipient, limit, windowMs, now);
      }
    },
  };
}
