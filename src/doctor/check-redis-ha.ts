import type { Redis } from 'ioredis';
import type { RedisConfig } from '../config/types.js';
import { errorMessage } from '../shared/errors.js';
import { createRedis } from '../shared/redis-connect.js';
import type { DoctorCheck } from './types.js';

function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms); });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** `SENTINEL master NAME` answers a flat [field, value, ...] list. */
function fields(reply: unknown): Map<string, string> {
  const out = new Map<string, string>();
  if (!Array.isArray(reply)) return out;
  for (let i = 0; i + 1 < reply.length; i += 2) out.set(String(reply[i]), String(reply[i + 1]));
  return out;
}

interface SentinelView {
  readonly where: string;
  readonly master?: string;
  readonly flags?: string;
  readonly replicas?: number;
  readonly otherSentinels?: number;
  readonly quorum?: number;
  readonly error?: string;
}

/**
 * What each sentinel says about the master cmpha uses: its address, whether it is seen as down, how many
 * replicas and other sentinels it knows. Read-only (SENTINEL master / get-master-addr-by-name).
 */
export async function checkSentinels(config: RedisConfig, timeoutMs: number): Promise<DoctorCheck[]> {
  if (!config.sentinels?.length) return [];
  const name = config.masterName!;
  const views = await Promise.all(config.sentinels.map(async (s): Promise<SentinelView> => {
    const where = `${s.host}:${s.port}`;
    const node: RedisConfig = {
      url: `redis://${s.host.includes(':') ? `[${s.host}]` : s.host}:${s.port}`, prefix: config.prefix,
      ...(config.sentinelPassword ? { password: config.sentinelPassword } : {}),
      ...(config.tls ? { tls: config.tls } : {}),
    };
    const r = createRedis(node, { mode: 'once', connectTimeoutMs: timeoutMs });
    try {
      await bounded(r.connect(), timeoutMs, 'connecting');
      const addr = await bounded(r.call('SENTINEL', 'get-master-addr-by-name', name), timeoutMs, 'SENTINEL get-master-addr-by-name') as [string, string] | null;
      if (!addr) return { where, error: `does not monitor a master named "${name}"` };
      const f = fields(await bounded(r.call('SENTINEL', 'master', name), timeoutMs, 'SENTINEL master'));
      return {
        where, master: `${addr[0]}:${addr[1]}`, flags: f.get('flags') ?? '?',
        replicas: Number(f.get('num-slaves') ?? 0), otherSentinels: Number(f.get('num-other-sentinels') ?? 0), quorum: Number(f.get('quorum') ?? 0),
      };
    } catch (err) {
      return { where, error: errorMessage(err) };
    } finally {
      r.disconnect();
    }
  }));
  const answering = views.filter((v) => !v.error);
  const checks: DoctorCheck[] = [];
  for (const v of views) {
    checks.push(v.error
      ? { name: 'sentinel', status: 'warn', detail: `sentinel ${v.where}: ${v.error}` }
      : { name: 'sentinel', status: /s_down|o_down/.test(v.flags!) ? 'warn' : 'ok', detail: `sentinel ${v.where}: master "${name}" at ${v.master} (${v.flags}), ${v.replicas} replica(s), ${v.otherSentinels} other sentinel(s), quorum ${v.quorum}` });
  }
  const masters = new Set(answering.map((v) => v.master));
  const quorum = Math.max(0, ...answering.map((v) => v.quorum ?? 0));
  if (answering.length === 0) {
    checks.push({ name: 'sentinel-master', status: 'fail', detail: `no sentinel answers for master "${name}": cmpha cannot find its Redis` });
  } else if (masters.size > 1) {
    checks.push({ name: 'sentinel-master', status: 'warn', detail: `the sentinels disagree on the master (${[...masters].join(' vs ')}): a failover may be under way` });
  } else {
    const replicas = Math.min(...answering.map((v) => v.replicas ?? 0));
    const problems = [
      ...(answering.length < quorum ? [`only ${answering.length} sentinel(s) answer, quorum is ${quorum}: no failover could be agreed`] : []),
      ...(replicas === 0 ? ['no replica: a failover has nothing to promote'] : []),
      ...(config.sentinels.length < 3 ? [`${config.sentinels.length} sentinel(s) configured; run 3 on separate machines`] : []),
    ];
    checks.push({
      name: 'sentinel-master',
      status: problems.length > 0 ? 'warn' : 'ok',
      detail: `master "${name}" is ${[...masters][0]} by ${answering.length} of ${config.sentinels.length} sentinel(s)${problems.length > 0 ? `; ${problems.join('; ')}` : ''}`,
    });
  }
  return checks;
}

/**
 * The master's `maxmemory-policy`: BullMQ requires `noeviction` (an evicted job or lock is a lost or doubled
 * recovery). Read from INFO, which the ACL user of docs/operations.md may run (CONFIG it may not).
 */
export async function evictionCheck(redis: Redis, timeoutMs: number): Promise<DoctorCheck[]> {
  try {
    const info = await bounded(redis.info('memory'), timeoutMs, 'INFO memory');
    const policy = /^maxmemory_policy:(\S+)/m.exec(info)?.[1];
    if (!policy) return [];
    return [policy === 'noeviction'
      ? { name: 'redis-eviction', status: 'ok', detail: 'maxmemory-policy is noeviction' }
      : { name: 'redis-eviction', status: 'fail', detail: `maxmemory-policy is ${policy}: Redis may evict queue jobs and locks; set maxmemory-policy noeviction` }];
  } catch (err) {
    return [{ name: 'redis-eviction', status: 'warn', detail: `cannot read maxmemory-policy (${errorMessage(err)})` }];
  }
}
