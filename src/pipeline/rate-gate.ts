import type { Redis } from 'ioredis';
import type { StartGate, StartSlot } from '../evacuator/types.js';
import { sleep } from '../shared/time.js';

// A sliding one-minute window of evacuate starts shared by every worker (Redis time, so replicas on hosts
// with different clocks agree), plus a minimum gap between two starts of the same incident.
// Returns {0, member} when admitted, else {milliseconds to wait, ''}.
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
if wait > 0 then return {wait, ''} end
local member = ARGV[4] .. ':' .. now .. ':' .. redis.call('INCR', KEYS[3])
redis.call('ZADD', KEYS[1], now, member)
redis.call('PEXPIRE', KEYS[1], window * 2)
redis.call('SET', KEYS[2], now, 'PX', math.max(stagger, 1000))
return {0, member}
`;

// Moves an admitted start's time to now (after its POST went out), so the window counts from when Nova
// received the request at the latest, not from the admission a moment before.
const SETTLE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1])
return 1
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

  async acquire(incidentId: string, signal?: AbortSignal): Promise<StartSlot> {
    const p = this.opts.prefix;
    const window = `${p}:evacuate-starts`;
    for (let held = false; ; held = true) {
      const [wait, member] = (await this.redis.eval(ADMIT, 3, window, `${p}:evacuate-last:${incidentId}`, `${p}:evacuate-seq`,
        String(this.opts.windowMs ?? 60_000), String(this.opts.maxPerMinute), String(this.opts.staggerMs), incidentId)) as [number, string];
      if (Number(wait) <= 0) {
        return { held, settle: async () => { await this.redis.eval(SETTLE, 1, window, member); } };
      }
      await sleep(Math.min(Number(wait), 5000), signal);
    }
  }
}
