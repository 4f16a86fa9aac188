import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { SegmentConfig } from '../config/types.js';
import { CmphaError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';

// Masakari's failover segments as cmpha keeps them: in Redis, seeded from cmpha.conf's [segment:NAME] sections.
// Redis is where they live because Masakari's runbooks change them at run time (`openstack segment host update
// --reserved`, `segment create`, `segment host create`) and every replica must act on the same answer at once;
// the file is the seed because a reviewed, deployed file is how a controller starts from nothing (a new Redis, a
// new site). The rule between the two, per segment: the last change wins. A section is written to Redis when its
// content differs from what was last seeded from it (a new section, or the file edited since); API changes to a
// seeded segment stand until the file's section changes again; a section removed from the file removes the
// segment it seeded. docs/masakari.md says the same for operators.

/** A stable UUID (version-5 layout) derived from a name: a seeded segment keeps its UUID across Redis resets. */
export function stableUuid(name: string): string {
  const h = createHash('sha1').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)}${h.slice(18, 20)}-${h.slice(20, 32)}`;
}

export const segmentUuid = (name: string): string => stableUuid(`cmpha-segment:${name}`);

/** A segment as stored (Masakari's field names). */
export interface StoredSegment {
  readonly uuid: string;
  readonly id: number;
  readonly name: string;
  readonly description: string | null;
  readonly recovery_method: string;
  readonly service_type: string;
  readonly enabled: boolean;
  /** Compute host names (Nova service hosts), reserved ones included. */
  readonly hosts: readonly string[];
  /** Hosts of this segment kept free for its failures (Masakari's reserved = True). */
  readonly reserved: readonly string[];
  /** Where it was first written from. */
  readonly from: 'config' | 'api';
  readonly created_at: number;
  readonly updated_at: number | null;
}

/** A host's run-time flag, as `openstack segment host update --on_maintenance` sets it. */
export interface MaintenanceFlag {
  readonly by: string;
  readonly at: number;
}

/** What the recovery and the detector read: every segment and the hosts on maintenance. */
export interface SegmentFacts {
  readonly segments: readonly StoredSegment[];
  readonly maintenance: ReadonlyMap<string, MaintenanceFlag>;
}

const fingerprint = (g: SegmentConfig): string => createHash('sha1').update(JSON.stringify([
  g.hosts, g.reservedHosts, g.recoveryMethod, g.serviceType, g.description ?? null, g.enabled,
])).digest('hex');

/** Records written before segments kept their hosts read as segments without hosts. */
function normalize(raw: string): StoredSegment {
  const s = JSON.parse(raw) as Partial<StoredSegment> & Pick<StoredSegment, 'uuid' | 'id' | 'name'>;
  return {
    description: null, recovery_method: 'auto', service_type: 'COMPUTE', enabled: true, created_at: 0, updated_at: null, ...s,
    hosts: s.hosts ?? [], reserved: s.reserved ?? [], from: s.from ?? 'api',
  };
}

/** How long one API write may hold the segments' lock (a controller that dies holding it frees it by then). */
const LOCK_TTL_MS = 10_000;
/** Deletes the lock only if it is still ours (a write that outlived its TTL must not free the next one's lock). */
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/** Where segments and host flags are kept in Redis; every read first seeds from the file once per process. */
export class SegmentStore {
  private readonly k: { segments: string; seq: string; maintenance: string; seeds: string; lock: string };
  private seeding: Promise<void> | null = null;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly configured: readonly SegmentConfig[] = [],
    private readonly opts: { readonly now?: () => number; readonly logger?: Logger } = {},
  ) {
    this.k = {
      segments: `${prefix}:masakari:segments`, seq: `${prefix}:masakari:segment-seq`, maintenance: `${prefix}:masakari:maintenance`, seeds: `${prefix}:masakari:segment-seeds`,
      lock: `${prefix}:masakari:segments-lock`,
    };
  }

  /** Seeds once per process; a failed seed (Redis unreachable) is tried again on the next read. */
  private seeded(): Promise<void> {
    this.seeding ??= this.seed().catch((err: unknown) => {
      this.seeding = null;
      throw err;
    });
    return this.seeding;
  }

  /** Writes each [segment:NAME] whose content changed since it was last seeded; removes those the file dropped. */
  private async seed(): Promise<void> {
    const now = this.opts.now?.() ?? Date.now();
    const seeds = await this.redis.hgetall(this.k.seeds);
    let all = await this.rawList();
    for (const [i, g] of this.configured.entries()) {
      const fp = fingerprint(g);
      if (seeds[g.name] === fp) continue;
      const existing = all.find((s) => s.name === g.name);
      const seg: StoredSegment = {
        uuid: existing?.uuid ?? segmentUuid(g.name), id: existing?.id ?? i + 1, name: g.name, description: g.description ?? null,
        recovery_method: g.recoveryMethod, service_type: g.serviceType, enabled: g.enabled, hosts: [...g.hosts], reserved: [...g.reservedHosts],
        from: 'config', created_at: existing?.created_at ?? now, updated_at: existing ? now : null,
      };
      // A host belongs to one segment: the file's section takes it from a segment made through the API.
      for (const other of all.filter((s) => s.uuid !== seg.uuid && s.hosts.some((h) => seg.hosts.includes(h)))) {
        await this.put({ ...other, hosts: other.hosts.filter((h) => !seg.hosts.includes(h)), reserved: other.reserved.filter((h) => !seg.hosts.includes(h)), updated_at: now });
        this.opts.logger?.warn({ segment: other.name, seededFrom: g.name }, `hosts of segment ${other.name} moved to [segment:${g.name}] as cmpha.conf declares them`);
      }
      await this.put(seg);
      await this.redis.hset(this.k.seeds, g.name, fp);
      this.opts.logger?.info({ segment: g.name }, existing ? `segment ${g.name} changed in cmpha.conf: Redis takes the file's version` : `segment ${g.name} seeded from cmpha.conf`);
      all = await this.rawList();
    }
    for (const name of Object.keys(seeds).filter((n) => !this.configured.some((g) => g.name === n))) {
      const gone = all.find((s) => s.name === name && s.from === 'config');
      if (gone) await this.redis.hdel(this.k.segments, gone.uuid);
      await this.redis.hdel(this.k.seeds, name);
      this.opts.logger?.info({ segment: name }, `segment ${name} removed: cmpha.conf no longer declares it`);
    }
  }

  /**
   * Runs one API write (read, check, write) holding the segments' lock in Redis: two writes at once, through this
   * controller or another one's API, each see the other's result instead of both writing over the same version
   * (`segment host create` of two hosts at once would keep only one of them).
   */
  async exclusive<T>(fn: () => Promise<T>, waitMs = LOCK_TTL_MS): Promise<T> {
    const token = randomUUID();
    const deadline = Date.now() + waitMs;
    while ((await this.redis.set(this.k.lock, token, 'PX', LOCK_TTL_MS, 'NX')) !== 'OK') {
      if (Date.now() > deadline) {
        throw new CmphaError('segments_busy', `segments are being changed by another request (Redis key ${this.k.lock} held for over ${waitMs / 1000} s): try again`, { retryable: true });
      }
      await sleep(20);
    }
    try {
      return await fn();
    } finally {
      await this.redis.eval(RELEASE, 1, this.k.lock, token);
    }
  }

  private async rawList(): Promise<StoredSegment[]> {
    return (await this.redis.hvals(this.k.segments)).map(normalize).sort((a, b) => a.id - b.id);
  }

  async list(): Promise<StoredSegment[]> {
    await this.seeded();
    return await this.rawList();
  }

  /** The segments and the maintenance flags, read together. */
  async facts(): Promise<SegmentFacts> {
    const segments = await this.list();
    return { segments, maintenance: await this.maintenance() };
  }

  /** Numbers API segments after the file's, so an id never changes meaning when the file gains a segment. */
  async nextId(): Promise<number> {
    return 1000 + (await this.redis.incr(this.k.seq));
  }

  async put(s: StoredSegment): Promise<void> {
    await this.redis.hset(this.k.segments, s.uuid, JSON.stringify(s));
  }

  async delete(uuid: string): Promise<void> {
    await this.redis.hdel(this.k.segments, uuid);
  }

  async maintenance(): Promise<Map<string, MaintenanceFlag>> {
    const all = await this.redis.hgetall(this.k.maintenance);
    return new Map(Object.entries(all).map(([host, raw]) => [host, JSON.parse(raw) as MaintenanceFlag]));
  }

  async setMaintenance(host: string, on: boolean, flag: MaintenanceFlag): Promise<void> {
    if (on) await this.redis.hset(this.k.maintenance, host, JSON.stringify(flag));
    else await this.redis.hdel(this.k.maintenance, host);
  }
}
