import { maskUrlsIn } from '../shared/mask-url.js';
import type { Redis } from 'ioredis';
import type { RedisConfig } from '../config/types.js';
import { detectorKeys } from '../detector/keys.js';
import { describeDisarm, type DisarmView } from '../detector/disarm.js';
import { disarmViews } from '../detector/ha-control.js';
import { incidentKeys } from '../incidents/keys.js';
import { errorMessage } from '../shared/errors.js';
import { createRedis, redisWhere } from '../shared/redis-connect.js';
import { checkSentinels, evictionCheck } from './check-redis-ha.js';
import type { DoctorCheck } from './types.js';

export interface RedisFindings {
  readonly checks: readonly DoctorCheck[];
  /** Spare host → incident holding it: the spare step passes such spares over. Empty when Redis is down. */
  readonly claimedSpares: ReadonlyMap<string, string>;
}


function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms); });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * PING, then who holds the leader lease and which spares open incidents have claimed. Reads only.
 * Uses `existing` when given (the controller's connection), else opens one that gives up at once.
 */
export async function checkRedis(config: RedisConfig, spareHosts: readonly string[], opts: { existing?: Redis; timeoutMs: number; disarmLimitMs?: number }): Promise<RedisFindings> {
  const where = redisWhere(config);
  const redis = opts.existing ?? createRedis(config, { mode: 'once', connectTimeoutMs: opts.timeoutMs });
  const claimedSpares = new Map<string, string>();
  try {
    if (!opts.existing) await bounded(redis.connect(), opts.timeoutMs, 'connecting');
    const pong = await bounded(redis.ping(), opts.timeoutMs, 'PING');
    if (pong !== 'PONG') return { checks: [{ name: 'redis', status: 'fail', detail: `${where} answered PING with "${pong}"` }], claimedSpares };
    const leaderKey = detectorKeys(config.prefix).leader;
    const leader = await bounded(redis.get(leaderKey), opts.timeoutMs, 'reading the leader lease');
    const epoch = leader ? await bounded(redis.get(`${leaderKey}:epoch`), opts.timeoutMs, 'reading the lease epoch') : null;
    const keys = incidentKeys(config.prefix);
    for (const host of spareHosts) {
      const owner = await bounded(redis.get(keys.spareClaim(host)), opts.timeoutMs, 'reading spare claims');
      if (owner) claimedSpares.set(host, owner);
    }
    const disarms = await bounded(disarmChecks(redis, config.prefix, opts.disarmLimitMs ?? Number.POSITIVE_INFINITY), opts.timeoutMs, 'reading the disarms');
    const eviction = await evictionCheck(redis, opts.timeoutMs);
    const persistence = await persistenceCheck(redis, opts.timeoutMs);
    const sentinels = await checkSentinels(config, opts.timeoutMs);
    return {
      checks: [
        { name: 'redis', status: 'ok', detail: `${where} answers PING (prefix ${config.prefix})` },
        ...sentinels,
        ...eviction,
        persistence,
        leader
          ? { name: 'leader', status: 'ok', detail: `controller ${leader} holds the leader lease${epoch ? ` (epoch ${epoch})` : ''}` }
          : { name: 'leader', status: 'warn', detail: 'no controller holds the leader lease: is `cmpha run` running with this [redis] url and prefix?' },
        ...disarms,
      ],
      claimedSpares,
    };
  } catch (err) {
    const sentinels = await checkSentinels(config, opts.timeoutMs);
    const fix = config.sentinels?.length
      ? 'start Redis and its sentinels, or set [redis] sentinels and master_name to the ones cmpha should use'
      : `start Redis at ${where}, or set [redis] url to the Redis cmpha should use`;
    return { checks: [{ name: 'redis', status: 'fail', detail: `cannot reach Redis at ${where}: ${maskUrlsIn(errorMessage(err))} (no queue, no leader lease: nothing would be recovered); ${fix}` }, ...sentinels], claimedSpares };
  } finally {
    if (!opts.existing) redis.disconnect();
  }
}

/**
 * What `cmpha ha disarm` took out of HA (scope, who, why, since, until, and whether it waits for an incident): one
 * warning each, as `cmpha ha status` says it; a disarm past its until or the limit is a failure (the alert
 * CmphaDisarmOverdue fires for it too).
 */
export async function disarmChecks(redis: Redis, prefix: string, limitMs: number): Promise<DoctorCheck[]> {
  const views = await disarmViews(redis, prefix, Date.now(), limitMs);
  if (views.length === 0) return [{ name: 'ha', status: 'ok', detail: 'nothing is disarmed (cmpha ha status): every host without ha = false is under HA' }];
  return views.map((v) => ({ name: 'ha', status: v.overdue ? 'fail' : 'warn', detail: `DISARMED: ${describeDisarm(v)} (cmpha ha arm ${armArgs(v)} to end it)` }));
}

const armArgs = (v: DisarmView) => (v.scope.kind === 'all' ? '--all' : `--${v.scope.kind} ${v.scope.name}`);

/**
 * Whether Redis keeps incidents across its own restart. Without the append-only file a restart in the middle
 * of a recovery loses the incident record; cmpha finds such a recovery again from Nova (a host it disabled that
 * still has servers), but the timeline and the progress are gone.
 */
export async function persistenceCheck(redis: Redis, timeoutMs: number): Promise<DoctorCheck> {
  // INFO, not CONFIG GET: an ACL user limited to cmpha's keys (docs/operations.md) may not run CONFIG.
  let info: string;
  try {
    info = await bounded(redis.info('persistence'), timeoutMs, 'INFO persistence');
  } catch (err) {
    return { name: 'redis-persistence', status: 'warn', detail: `cannot tell whether Redis persists (INFO persistence: ${errorMessage(err)}); incidents must survive a Redis restart: set appendonly yes` };
  }
  const flag = /^aof_enabled:(\d)/m.exec(info)?.[1];
  const value = flag === undefined ? null : flag === '1' ? 'yes' : 'no';
  if (value === 'yes') return { name: 'redis-persistence', status: 'ok', detail: 'appendonly yes: incident records survive a Redis restart' };
  return {
    name: 'redis-persistence', status: 'warn',
    detail: `appendonly ${value ?? '(no answer)'}: a Redis restart during a recovery loses its incident record (cmpha re-opens it from Nova, without its history); set appendonly yes`,
  };
}
