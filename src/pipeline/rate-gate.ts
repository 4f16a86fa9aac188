import type { Redis } from 'ioredis';
import type { StartGate } from '../evacuator/types.js';
import { sleep } from '../shared/time.js';

// A sliding one-minute window of evacuate starts shared by every worker (Redis time, so replicas on hosts
// with different clocks agree), plus a minimum gap between two starts of the same incident.
// Returns 0 when admitted, else how many milliseconds to wait before asking again.
const ADMIT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local max = tonumber(ARGV[2])
local stagger = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local wait = 0
if redis.call('ZCARD', KEYS[1]) >= max then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  wait = tonumber(oldest[2]) + window - now + 1
end
local last = redis.call('GET', KEYS[2])
if last and stagger > 0 then
  local w2 = tonumber(last) + stagger - now
  if w2 > wait then wait = w2 end
end
if wait > 0 then return wait end
redis.call('ZADD', KEYS[1], now, ARGV[4] .. ':' .. now .. ':' .. redis.call('INCR', KEYS[3]))
redis.call('PEXPIRE', KEYS[1], window * 2)
redis.call('SET', KEYS[2], now, 'PX', math.max(stagger, 1000))
return 0
`;

export interface RateGateOptions {
  readonly prefix: string;
  readonly maxPerMinute: number;
  readonly staggerMs: number;
  /** The window; a minute in production, shorter only in tests. */
  readonly windowMs?: number;
}

export class RedisStartGate implements StartGate {
  constructor(private readonly redis: Redis, private readonly opts: RateGateOptions) {}

  async acquire(incidentId: string, signal?: AbortSignal): Promise<void> {
    const p = this.opts.prefix;
    for (;;) {
      const wait = Number(await this.redis.eval(ADMIT, 3, `${p}:evacuate-starts`, `${p}:evacuate-last:${incidentId}`, `${p}:evacuate-seq`,
        String(this.opts.windowMs ?? 60_000), String(this.opts.maxPerMinute), String(this.opts.staggerMs), incidentId));
      if (wait <= 0) return;
      await sleep(Math.min(wait, 5000), signal);
    }
  }
}
