import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { CmphaError, errorMessage } from '../shared/errors.js';
import type { Leadership } from './leadership.js';
import type { Logger } from '../shared/logger.js';

// One script takes or renews the lease, so "free → mine" and "new epoch" cannot be split by another replica.
// Renewing only a lease we still hold: a replica that paused past its lease must not extend someone else's.
// Returns {this holder's epoch, ''} or {0, the other holder}. ARGV[3], when set, is a holder known to be dead:
// its lease is taken over at once (with a new epoch, so anything it started can no longer pass the check).
const ACQUIRE_OR_RENEW = `
local cur = redis.call('get', KEYS[1])
if cur == ARGV[1] then
  redis.call('pexpire', KEYS[1], ARGV[2])
  return {tonumber(redis.call('get', KEYS[2]) or '0'), ''}
end
if cur and cur ~= ARGV[3] then return {0, cur} end
local epoch = redis.call('incr', KEYS[2])
redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {epoch, ''}`;
// The fencing-token check: the lease names this owner and no acquisition happened since ours.
const STILL_LEADING = `if redis.call('get', KEYS[1]) == ARGV[1] and redis.call('get', KEYS[2]) == ARGV[2] then return 1 else return 0 end`;
/** The error code of a process that must not act (see Leadership). */
const DEPOSED = 'deposed';
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/**
 * Whether `holder` (an owner id `host/pid/...`) is a process of this host that has died: another pid that no
 * longer exists, or this very pid under another id (a restarted container whose process is pid 1 again). A
 * process that is merely paused (SIGSTOP) still exists and keeps its lease until it lapses.
 */
export function isDeadLocalHolder(holder: string, self: string): boolean {
  if (!holder || holder === self) return false;
  const [host, pidText] = holder.split('/');
  const [myHost, myPid] = self.split('/');
  if (host !== myHost || !/^\d+$/.test(pidText ?? '')) return false;
  if (pidText === myPid) return true;
  try {
    process.kill(Number(pidText), 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

export interface LeaderLeaseOptions {
  readonly owner?: string;
  /** Where "deposed" and "became leader" are said. */
  readonly logger?: Logger;
  /** Bound on the Redis check in assertLeading (default: a third of the lease, at most 5 s). */
  readonly checkTimeoutMs?: number;
}

/**
 * One active controller among replicas. The holder renews it on its own timer (keep-lease.ts); if it stops
 * (crash, partition from Redis), the lease lapses after `leaseMs` and a standby takes over at its next round.
 * Every acquisition increments `<key>:epoch`, the fencing token that `assertLeading` compares.
 */
export class LeaderLease implements Leadership {
  readonly owner: string;
  private held = false;
  private currentEpoch: number | null = null;
  private triedOnce = false;
  private readonly listeners: ((leading: boolean) => void)[] = [];
  private readonly logger?: Logger;
  private readonly checkTimeoutMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly leaseMs: number,
    ownerOrOptions?: string | LeaderLeaseOptions,
  ) {
    const opts = typeof ownerOrOptions === 'string' ? { owner: ownerOrOptions } : (ownerOrOptions ?? {});
    this.owner = opts.owner ?? `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
    this.logger = opts.logger;
    this.checkTimeoutMs = opts.checkTimeoutMs ?? Math.min(5000, Math.max(200, Math.floor(leaseMs / 3)));
  }

  /** How long the lease lasts without renewal. */
  get durationMs(): number {
    return this.leaseMs;
  }

  get isLeader(): boolean {
    return this.held;
  }

  /** The fencing token of the lease this replica holds, if it holds one. */
  get epoch(): number | null {
    return this.held ? this.currentEpoch : null;
  }

  get epochKey(): string {
    return `${this.key}:epoch`;
  }

  /** Called with true when this replica takes the lease, false when it loses it (deposed, lapsed, released). */
  onChange(listener: (leading: boolean) => void): void {
    this.listeners.push(listener);
  }

  /** Renews the lease if held, takes it if free. A Redis error leaves this replica not leader, and is raised. */
  async acquireOrRenew(): Promise<boolean> {
    let epoch: number;
    try {
      // Bounded: a command waiting for a Redis that is away would keep this replica "leader" in its own eyes.
      const run = async (dead: string) => {
        const [e, other] = await this.bounded(this.redis.eval(ACQUIRE_OR_RENEW, 2, this.key, this.epochKey, this.owner, String(this.leaseMs), dead)) as [number, string];
        return { epoch: Number(e), other };
      };
      let r = await run('');
      // Only on this process's first try: a restart reclaims its predecessor's lease in seconds, not after
      // `leaseMs`; a guess wrong (pid namespaces) costs one handover, never two leaders, thanks to the epoch.
      const first = !this.triedOnce;
      this.triedOnce = true;
      if (r.epoch === 0 && first && isDeadLocalHolder(r.other, this.owner)) {
        this.logger?.info({ previous: r.other }, 'the leader lease is held by a process of this host that no longer runs: taking it over');
        r = await run(r.other);
      }
      epoch = r.epoch;
    } catch (err) {
      this.lose('cannot reach Redis to renew the leader lease: acting on nothing until it is renewed', { err: errorMessage(err) }, 'warn');
      throw err;
    }
    if (epoch > 0) {
      const was = this.held ? this.currentEpoch : null;
      this.currentEpoch = epoch;
      if (!this.held) {
        this.held = true;
        this.logger?.info({ owner: this.owner, epoch }, 'took the leader lease');
        this.emit(true);
      } else if (was !== epoch) {
        this.logger?.warn({ owner: this.owner, epoch, was }, 'leader lease epoch changed while held');
      }
      return true;
    }
    this.lose('deposed: another controller holds the leader lease; stopping all actions', {});
    return false;
  }

  /**
   * Throws unless Redis still names this replica, with its epoch, as the leader. Atomic (one script), so
   * a lease taken by a standby in the meantime is always seen.
   */
  async assertLeading(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new CmphaError('stopping', 'cmpha is stopping');
    const epoch = this.currentEpoch;
    if (!this.held || epoch === null) {
      throw new CmphaError(DEPOSED, 'this controller does not hold the leader lease: it takes no action', { context: { owner: this.owner } });
    }
    let ok: number;
    try {
      ok = Number(await this.bounded(this.redis.eval(STILL_LEADING, 2, this.key, this.epochKey, this.owner, String(epoch))));
    } catch (err) {
      // Not provably leading is not leading: the job goes back to the queue for whoever leads (maybe us again).
      throw new CmphaError(DEPOSED, `cannot confirm the leader lease in Redis (${errorMessage(err)}): not acting`, { context: { owner: this.owner, epoch } });
    }
    if (ok !== 1) {
      // Only if nothing re-acquired in the meantime (then the new epoch is ours and the check was stale).
      if (this.currentEpoch === epoch) this.lose('deposed: the leader lease is no longer this controller\'s; stopping all actions', { epoch });
      throw new CmphaError(DEPOSED, `deposed: epoch ${epoch} of ${this.owner} no longer holds the leader lease`, { context: { owner: this.owner, epoch } });
    }
  }

  /** Gives the lease up at once (clean shutdown), so a standby need not wait for it to lapse. */
  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    this.emit(false);
    await this.redis.eval(RELEASE, 1, this.key, this.owner);
  }

  /** Who holds the lease now, if anyone. */
  async holder(): Promise<string | null> {
    return this.redis.get(this.key);
  }

  private async bounded<T>(p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis gave no answer within ${this.checkTimeoutMs} ms`)), this.checkTimeoutMs);
    });
    try {
      return await Promise.race([p, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private lose(message: string, fields: Record<string, unknown>, level: 'warn' | 'error' = 'error'): void {
    if (!this.held) return;
    this.held = false;
    this.logger?.[level]({ owner: this.owner, epoch: this.currentEpoch, ...fields }, message);
    this.emit(false);
  }

  private emit(leading: boolean): void {
    for (const l of this.listeners) l(leading);
  }
}
