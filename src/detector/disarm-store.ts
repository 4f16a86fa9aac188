import type { Redis } from 'ioredis';
import { CmphaError } from '../shared/errors.js';
import { describeScope, scopeKey, type DisarmAudit, type DisarmEntry, type DisarmScope } from './disarm.js';
import { detectorKeys } from './keys.js';

/** The audit list keeps this many changes (newest first). */
const AUDIT_LENGTH = 1000;

function parseEntry(raw: string): DisarmEntry | null {
  try {
    const v = JSON.parse(raw) as Partial<DisarmEntry>;
    const s = v.scope as Partial<DisarmScope> | undefined;
    if (!s || !['host', 'aggregate', 'zone', 'all'].includes(String(s.kind)) || typeof s.name !== 'string') return null;
    return {
      scope: { kind: s.kind!, name: s.name }, reason: String(v.reason ?? ''), by: String(v.by ?? '?'),
      at: typeof v.at === 'number' ? v.at : 0, until: typeof v.until === 'number' ? v.until : null,
    };
  } catch {
    return null;
  }
}

/**
 * The disarms, in Redis, shared by every replica: a restart or a new leader reads the same ones. Every change
 * is written with its audit line in one MULTI, so the list never misses a change that took.
 */
export class DisarmStore {
  private readonly keys: ReturnType<typeof detectorKeys>;

  constructor(private readonly redis: Redis, prefix: string) {
    this.keys = detectorKeys(prefix);
  }

  /**
   * Every disarm, by scope key order. An entry that cannot be parsed holds the whole cloud back (the safe side of
   * an operator's "hands off"), named by its field so it can be armed.
   */
  async list(): Promise<DisarmEntry[]> {
    const all = await this.redis.hgetall(this.keys.disarms);
    return Object.entries(all).sort(([a], [b]) => a.localeCompare(b)).map(([field, raw]) => parseEntry(raw)
      ?? { scope: { kind: 'all', name: '' }, reason: `stored disarm ${field} is unreadable: arm it (cmpha ha arm) to clear it`, by: '?', at: 0, until: null });
  }

  /** Records a disarm (replacing one of the same scope: a new reason or until). Returns the one it replaced. */
  async disarm(entry: DisarmEntry): Promise<DisarmEntry | null> {
    const field = scopeKey(entry.scope);
    const before = await this.redis.hget(this.keys.disarms, field);
    const audit: DisarmAudit = { action: 'disarm', scope: entry.scope, by: entry.by, at: entry.at, reason: entry.reason, until: entry.until };
    await this.redis.multi()
      .hset(this.keys.disarms, field, JSON.stringify(entry))
      .lpush(this.keys.disarmAudit, JSON.stringify(audit))
      .ltrim(this.keys.disarmAudit, 0, AUDIT_LENGTH - 1)
      .exec();
    return before === null ? null : parseEntry(before);
  }

  /**
   * Arms a scope again: removes its disarm (`all`: every disarm). Throws `not_disarmed` when there is none, so an
   * operator who typed the wrong scope is told, not reassured.
   */
  async arm(scope: DisarmScope, by: string, reason: string, at: number): Promise<DisarmEntry[]> {
    const current = await this.redis.hgetall(this.keys.disarms);
    const fields = scope.kind === 'all' ? Object.keys(current) : [scopeKey(scope)].filter((f) => f in current);
    if (fields.length === 0) {
      const known = Object.keys(current).sort();
      throw new CmphaError('not_disarmed', `${describeScope(scope)} is not disarmed${known.length > 0 ? ` (disarmed: ${known.join(', ')})` : ' (nothing is)'}`);
    }
    const m = this.redis.multi().hdel(this.keys.disarms, ...fields);
    for (const f of fields) {
      const e = parseEntry(current[f]!);
      const audit: DisarmAudit = { action: 'arm', scope: e?.scope ?? scope, by, at, reason };
      m.lpush(this.keys.disarmAudit, JSON.stringify(audit));
    }
    await m.ltrim(this.keys.disarmAudit, 0, AUDIT_LENGTH - 1).exec();
    return fields.map((f) => parseEntry(current[f]!)).filter((e): e is DisarmEntry => e !== null);
  }

  /** Appends one line (the controller's "now in effect"). */
  async record(line: DisarmAudit): Promise<void> {
    await this.redis.multi().lpush(this.keys.disarmAudit, JSON.stringify(line)).ltrim(this.keys.disarmAudit, 0, AUDIT_LENGTH - 1).exec();
  }

  /** The newest `limit` audit lines, newest first. */
  async audit(limit = 50): Promise<DisarmAudit[]> {
    const raw = await this.redis.lrange(this.keys.disarmAudit, 0, Math.max(0, limit - 1));
    return raw.flatMap((r) => {
      try {
        return [JSON.parse(r) as DisarmAudit];
      } catch {
        return [];
      }
    });
  }
}
