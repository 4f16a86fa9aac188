import { Redis } from 'ioredis';
import type { RedisConfig } from '../config/types.js';
import { CmphaError, errorMessage } from './errors.js';
import { maskUrl } from './mask-url.js';

/** The Redis URL as it may be shown: without a password in its user-info part. */
export function redisDisplayUrl(url: string): string {
  return maskUrl(url);
}

/**
 * A Redis connection for a one-shot command: connects now and fails fast with a message that names the URL
 * and the config key, instead of ioredis retrying forever and printing "Unhandled error event" lines.
 */
export async function connectRedisOnce(config: RedisConfig, timeoutMs = 5000): Promise<Redis> {
  const redis = new Redis(config.url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
    ...(config.password ? { password: config.password.reveal() } : {}),
  });
  let lastError: unknown;
  redis.on('error', (err) => { lastError = err; });
  try {
    await redis.connect();
    return redis;
  } catch (err) {
    redis.disconnect();
    const cause = (lastError ?? err) as NodeJS.ErrnoException;
    throw new CmphaError('redis_unreachable', `cannot reach Redis at ${redisDisplayUrl(config.url)} ([redis] url): ${cause.code ?? errorMessage(cause)}`, { retryable: true });
  }
}
