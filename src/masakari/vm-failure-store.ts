import type { Redis } from 'ioredis';

/** One VM failure cmpha acted on: its own record and timeline, apart from host incidents. */
export interface VmFailureRecord {
  readonly id: string;
  readonly serverId: string;
  readonly serverName: string;
  readonly host: string;
  readonly notificationUuid: string;
  /** What the monitor reported, in words. */
  readonly what: string;
  readonly status: 'running' | 'resolved' | 'failed';
  readonly openedAt: number;
  readonly closedAt?: number;
  readonly timeline: readonly { readonly at: number; readonly step: string; readonly level: 'info' | 'warning' | 'critical'; readonly message: string }[];
}

const RETENTION_MS = 30 * 24 * 3600_000;

// Takes the server's lock unless another recovery holds it, then counts its restarts within the window and, when
// under the bound, counts this one: a flood of notifications for one server starts at most one recovery, and the
// bound holds across replicas.
const BEGIN = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) == false then return {0, redis.call('GET', KEYS[1]) or ''} end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[3]) - tonumber(ARGV[4]))
local n = redis.call('ZCARD', KEYS[2])
if n >= tonumber(ARGV[5]) then
  redis.call('DEL', KEYS[1])
  return {2, tostring(n)}
end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return {1, tostring(n + 1)}
`;

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export type Begin =
  | { readonly kind: 'started'; readonly restarts: number }
  | { readonly kind: 'busy'; readonly holder: string }
  | { readonly kind: 'bounded'; readonly restarts: number };

export class VmFailureStore {
  private readonly k: { record: (id: string) => string; index: string; lock: (s: string) => string; restarts: (s: string) => string };

  constructor(private readonly redis: Redis, prefix: string) {
    this.k = {
      record: (id) => `${prefix}:vmfail:${id}`, index: `${prefix}:vmfail:index`,
      lock: (s) => `${prefix}:vmfail:lock:${s}`, restarts: (s) => `${prefix}:vmfail:restarts:${s}`,
    };
  }

  /** The server's lock and its restart bound, in one step (see BEGIN). The lock is held until `release`. */
  async begin(serverId: string, recordId: string, opts: { now: number; lockMs: number; windowMs: number; max: number }): Promise<Begin> {
    const [code, value] = (await this.redis.eval(BEGIN, 2, this.k.lock(serverId), this.k.restarts(serverId),
      recordId, String(opts.lockMs), String(opts.now), String(opts.windowMs), String(opts.max))) as [number, string];
    if (code === 0) return { kind: 'busy', holder: value };
    if (code === 2) return { kind: 'bounded', restarts: Number(value) };
    return { kind: 'started', restarts: Number(value) };
  }

  /** True the first time within `windowMs` for this server: a crash loop pages once per window, not per crash. */
  async firstPage(serverId: string, windowMs: number): Promise<boolean> {
    return (await this.redis.set(`${this.k.lock(serverId)}:paged`, '1', 'PX', windowMs, 'NX')) === 'OK';
  }

  async release(serverId: string, recordId: string): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.k.lock(serverId), recordId);
  }

  async put(r: VmFailureRecord): Promise<void> {
    await this.redis.multi().set(this.k.record(r.id), JSON.stringify(r), 'PX', RETENTION_MS).zadd(this.k.index, r.openedAt, r.id).exec();
  }

  async get(id: string): Promise<VmFailureRecord | null> {
    const raw = await this.redis.get(this.k.record(id));
    return raw === null ? null : (JSON.parse(raw) as VmFailureRecord);
  }

  /** Newest first. */
  async list(limit = 50): Promise<VmFailureRecord[]> {
    const ids = await this.redis.zrevrange(this.k.index, 0, limit - 1);
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(ids.map((id) => this.k.record(id)));
    return raws.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as VmFailureRecord);
  }
}
