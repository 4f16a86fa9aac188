import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';

// Renew only a lease we still hold: a replica that paused past its lease must not extend someone else's.
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/**
 * One active controller among replicas. The holder renews every round; if it stops (crash, partition from
 * Redis), the lease lapses after `leaseMs` and a standby takes over at its next round.
 */
export class LeaderLease {
  readonly owner: string;
  private held = false;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly leaseMs: number,
    owner?: string,
  ) {
    this.owner = owner ?? `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
  }

  get isLeader(): boolean {
    return this.held;
  }

  /** Renews the lease if held, takes it if free. A Redis error leaves this replica not leader, and is raised. */
  async acquireOrRenew(): Promise<boolean> {
    try {
      const renewed = Number(await this.redis.eval(RENEW, 1, this.key, this.owner, String(this.leaseMs)));
      if (renewed === 1) {
        this.held = true;
        return true;
      }
      const set = await this.redis.set(this.key, this.owner, 'PX', this.leaseMs, 'NX');
      this.held = set === 'OK';
    } catch (err) {
      this.held = false;
      throw err;
    }
    return this.held;
  }

  /** Gives the lease up at once (clean shutdown), so a standby need not wait for it to lapse. */
  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    await this.redis.eval(RELEASE, 1, this.key, this.owner);
  }

  /** Who holds the lease now, if anyone. */
  async holder(): Promise<string | null> {
    return this.redis.get(this.key);
  }
}
