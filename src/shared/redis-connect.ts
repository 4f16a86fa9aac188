import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { Redis, type RedisOptions } from 'ioredis';
import type { RedisConfig } from '../config/types.js';
import { CmphaError, errorMessage } from './errors.js';
import { maskUrl } from './mask-url.js';
import type { RedisOutageLog } from './redis-outage.js';

/** Where cmpha's Redis is, as shown in logs and reports: the URL, or the sentinels and master name. */
export function redisWhere(config: RedisConfig): string {
  if (config.sentinels?.length) {
    return `master "${config.masterName}" via sentinels ${config.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`;
  }
  return maskUrl(config.url);
}

export interface RedisClientOptions {
  /**
   * `queue`: lives as long as the process, reconnects forever and queues commands while Redis is away
   * (BullMQ requires `maxRetriesPerRequest: null`). `once`: a CLI command's connection, gives up at once.
   */
  readonly mode: 'queue' | 'once';
  readonly connectTimeoutMs?: number;
  /** Where this client's errors and reconnections are reported; without it they are dropped (never printed raw). */
  readonly outage?: RedisOutageLog;
}

function readTlsFile(path: string, key: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new CmphaError('redis_tls_file', `cannot read ${path} ([redis] ${key}): ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
  }
}

function tlsOptions(config: RedisConfig): ConnectionOptions | undefined {
  if (!config.tls) return undefined;
  return {
    ...(config.tls.ca ? { ca: readTlsFile(config.tls.ca, 'tls_ca_file') } : {}),
    ...(config.tls.cert ? { cert: readTlsFile(config.tls.cert, 'tls_cert_file') } : {}),
    ...(config.tls.key ? { key: readTlsFile(config.tls.key, 'tls_key_file') } : {}),
  };
}

/**
 * The ioredis options for [redis]: address (or sentinels), ACL user, passwords, TLS, and the retry
 * behaviour of `mode`. The one place that turns [redis] into a connection, so every client (lease,
 * incidents, queues, notifier, doctor, CLI) reaches the same Redis the same way.
 */
export function redisOptions(config: RedisConfig, opts: RedisClientOptions): RedisOptions {
  const u = new URL(config.url);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  const username = config.username ?? (u.username ? decodeURIComponent(u.username) : undefined);
  const password = config.password?.reveal() ?? (u.password ? decodeURIComponent(u.password) : undefined);
  const tls = tlsOptions(config);
  const connectTimeout = opts.connectTimeoutMs ?? 10_000;
  const common: RedisOptions = {
    db,
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    connectTimeout,
    lazyConnect: opts.mode === 'once',
    ...(opts.mode === 'queue'
      ? {
          maxRetriesPerRequest: null,
          // Back off up to 2 s between attempts, forever: the controller must come back with Redis by itself.
          retryStrategy: (times: number) => Math.min(100 * times, 2000),
          // After a failover the old master may come back as a read-only replica: reconnect and ask again.
          reconnectOnError: (err: Error) => (/^READONLY/.test(err.message) ? 2 : false),
        }
      : { maxRetriesPerRequest: 0, retryStrategy: () => null }),
  };
  if (config.sentinels?.length) {
    return {
      ...common,
      sentinels: config.sentinels.map((s) => ({ host: s.host, port: s.port })),
      name: config.masterName!,
      ...(config.sentinelPassword ? { sentinelPassword: config.sentinelPassword.reveal() } : {}),
      // ioredis asks the sentinels again on every reconnect; the detector makes it notice +switch-master at once.
      failoverDetector: opts.mode === 'queue',
      sentinelRetryStrategy: opts.mode === 'queue' ? (times: number) => Math.min(100 * times, 2000) : () => null,
      ...(tls ? { tls, sentinelTLS: tls, enableTLSForSentinelMode: true } : {}),
    };
  }
  return { ...common, host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : 6379, ...(tls ? { tls } : {}) };
}

/** A Redis client for [redis]. Every error goes to `outage` (or nowhere): ioredis never prints one itself. */
export function createRedis(config: RedisConfig, opts: RedisClientOptions): Redis {
  const redis = new Redis(redisOptions(config, opts));
  redis.on('error', (err: unknown) => opts.outage?.error(err));
  redis.on('ready', () => opts.outage?.ready());
  return redis;
}

/**
 * A Redis connection for a one-shot command: connects now and fails fast with a message that names where
 * Redis was looked for and the config section, instead of ioredis retrying forever.
 */
export async function connectRedisOnce(config: RedisConfig, timeoutMs = 5000): Promise<Redis> {
  const redis = new Redis(redisOptions(config, { mode: 'once', connectTimeoutMs: timeoutMs }));
  let lastError: unknown;
  redis.on('error', (err) => { lastError = err; });
  try {
    await redis.connect();
    return redis;
  } catch (err) {
    redis.disconnect();
    const cause = (lastError ?? err) as NodeJS.ErrnoException;
    throw new CmphaError('redis_unreachable', `cannot reach Redis at ${redisWhere(config)} ([redis]): ${cause.code ?? errorMessage(cause)}`, { retryable: true });
  }
}
