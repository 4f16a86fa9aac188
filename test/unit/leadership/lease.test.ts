import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostname } from 'node:os';
import { isDeadLocalHolder, LeaderLease } from '../../../src/leadership/lease.js';
import { resume, StormBrakeStore } from '../../../src/detector/storm-brake-store.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';

let server: RedisServer;
let redis: Redis;
let n = 0;
const key = () => `lease-test-${process.pid}-${++n}:detector:leader`;
const waitFor = async (cond: () => Promise<boolean>, timeoutMs = 5000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
});

afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

describe('LeaderLease (real Redis)', () => {
  it('makes exactly one of two replicas leader, and keeps it leader while it renews', async () => {
    const k = key();
    const a = new LeaderLease(redis, k, 2000, 'replica-a');
    const b = new LeaderLease(redis, k, 2000, 'replica-b');
    const [ra, rb] = await Promise.all([a.acquireOrRenew(), b.acquireOrRenew()]);
    expect([ra, rb].filter(Boolean)).toHaveLength(1);
    const leader = ra ? a : b;
    const standby = ra ? b : a;
    for (let i = 0; i < 3; i++) {
      expect(await leader.acquireOrRenew()).toBe(true);
      expect(await standby.acquireOrRenew()).toBe(false);
    }
    expect(await redis.get(k)).toBe(leader.owner);
    expect(await redis.pttl(k)).toBeGreaterThan(1000);
  });

  it('lets the standby take over once the leader stops renewing and the lease expires', async () => {
    const k = key();
    const a = new LeaderLease(redis, k, 2000, 'replica-a');
    const b = new LeaderLease(redis, k, 2000, 'replica-b');
    expect(await a.acquireOrRenew()).toBe(true);
    expect(await b.acquireOrRenew()).toBe(false);
    await waitFor(async () => (await redis.exists(k)) === 0);
    expect(await b.acquireOrRenew()).toBe(true);
    // The old leader, back from a pause, must not renew a lease it no longer holds.
    expect(await a.acquireOrRenew()).toBe(false);
    expect(a.isLeader).toBe(false);
    expect(await redis.get(k)).toBe('replica-b');
  });

  it('hands over at once on release, and release never drops another holder', async () => {
    const k = key();
    const a = new LeaderLease(redis, k, 30_000, 'replica-a');
    const b = new LeaderLease(redis, k, 30_000, 'replica-b');
    expect(await a.acquireOrRenew()).toBe(true);
    await b.release();
    expect(await redis.get(k)).toBe('replica-a');
    await a.release();
    expect(await b.acquireOrRenew()).toBe(true);
  });

  it('reports not leader when Redis is unreachable', async () => {
    const dead = new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    dead.on('error', () => undefined);
    const l = new LeaderLease(dead, key(), 2000);
    await expect(l.acquireOrRenew()).rejects.toThrow();
    expect(l.isLeader).toBe(false);
    dead.disconnect();
  });
});

describe('LeaderLease fencing token (real Redis)', () => {
  it('gives every acquisition a strictly greater epoch, and keeps the epoch while renewing', async () => {
    const k = key();
    const a = new LeaderLease(redis, k, 2000, 'replica-a');
    const b = new LeaderLease(redis, k, 2000, 'replica-b');
    expect(await a.acquireOrRenew()).toBe(true);
    const first = a.epoch!;
    expect(first).toBeGreaterThan(0);
    expect(await a.acquireOrRenew()).toBe(true);
    expect(a.epoch).toBe(first);
    await a.release();
    expect(await b.acquireOrRenew()).toBe(true);
    expect(b.epoch!).toBeGreaterThan(first);
    await b.release();
    expect(await a.acquireOrRenew()).toBe(true);
    expect(a.epoch!).toBeGreaterThan(first + 1);
  });

  it('assertLeading passes for the holder and throws a non-retryable "deposed" once a standby took over', async () => {
    const k = key();
    const a = new LeaderLease(redis, k, 1000, 'replica-a');
    const b = new LeaderLease(redis, k, 1000, 'replica-b');
    const changes: boolean[] = [];
    a.onChange((leading) => changes.push(leading));
    expect(await a.acquireOrRenew()).toBe(true);
    await expect(a.assertLeading()).resolves.toBeUndefined();
    await expect(b.assertLeading()).rejects.toMatchObject({ code: 'deposed', retryable: false });
    // A pauses past its lease (it stops renewing); B takes over.
    await waitFor(async () => (await redis.exists(k)) === 0);
    expect(await b.acquireOrRenew()).toBe(true);
    // A has not noticed yet (no round since): its own view still says leader, Redis says otherwise.
    expect(a.isLeader).toBe(true);
    await expect(a.assertLeading()).rejects.toMatchObject({ code: 'deposed', retryable: false });
    expect(a.isLeader).toBe(false);
    expect(changes).toEqual([true, false]);
    await expect(b.assertLeading()).resolves.toBeUndefined();
  });

  it('a lapsed lease that nobody took is not leadership either', async () => {
    const k = key();
    const a = new LeaderLease(redis, k, 1000, 'replica-a');
    expect(await a.acquireOrRenew()).toBe(true);
    await waitFor(async () => (await redis.exists(k)) === 0);
    await expect(a.assertLeading()).rejects.toMatchObject({ code: 'deposed' });
  });

  it('a leader that cannot reach Redis gets "deposed" (cannot confirm), never a pass', async () => {
    const dead = new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true, maxRetriesPerRequest: null, retryStrategy: () => 1000 });
    dead.on('error', () => undefined);
    const k = key();
    const a = new LeaderLease(redis, k, 3000, 'replica-a');
    expect(await a.acquireOrRenew()).toBe(true);
    // The same lease object seen through a connection that never answers: the check is bounded.
    const blind = new LeaderLease(dead, k, 3000, { owner: 'replica-a', checkTimeoutMs: 300 });
    Object.assign(blind as unknown as { held: boolean; currentEpoch: number }, { held: true, currentEpoch: a.epoch! });
    await expect(blind.assertLeading()).rejects.toMatchObject({ code: 'deposed', message: expect.stringMatching(/cannot confirm the leader lease/) });
    dead.disconnect();
  });
});

describe('LeaderLease after a restart on the same host', () => {
  const me = `${hostname()}/${process.pid}/new`;
  it('takes over at once, with a new epoch, a lease left by a process of this host that no longer exists', async () => {
    const k = key();
    // A pid far above pid_max cannot exist.
    const dead = `${hostname()}/999999999/old`;
    await redis.set(k, dead, 'PX', 30_000);
    await redis.set(`${k}:epoch`, '41');
    const l = new LeaderLease(redis, k, 30_000, me);
    expect(await l.acquireOrRenew()).toBe(true);
    expect(l.epoch).toBe(42);
    expect(await redis.get(k)).toBe(me);
  });

  it('leaves alone a live process of this host (paused, say) and any other host\'s lease, until it lapses', async () => {
    for (const holder of [`${hostname()}/${process.ppid}/other`, 'elsewhere/999999999/x']) {
      const k = key();
      await redis.set(k, holder, 'PX', 30_000);
      const l = new LeaderLease(redis, k, 30_000, me);
      expect(await l.acquireOrRenew()).toBe(false);
      expect(await redis.get(k)).toBe(holder);
    }
    expect(isDeadLocalHolder(`${hostname()}/${process.pid}/previous-incarnation`, me)).toBe(true);
    expect(isDeadLocalHolder(me, me)).toBe(false);
  });
});

describe('storm brake state (real Redis)', () => {
  it('resume() leaves a request the leader can read and clear, and reports the brake it found', async () => {
    const prefix = `brake-test-${process.pid}`;
    const store = new StormBrakeStore(redis, prefix);
    await store.save({ active: true, since: 1000, reason: '3 hosts look dead', alerted: true, resumedHosts: null });
    expect(await store.resumeRequested()).toBe(false);
    const r = await resume(redis, prefix);
    expect(r).toEqual({ brakeActive: true, reason: '3 hosts look dead', since: 1000 });
    expect(await store.resumeRequested()).toBe(true);
    await store.clearResume();
    expect(await store.resumeRequested()).toBe(false);
    expect((await store.load()).active).toBe(true);
  });

  it('treats unreadable stored state as brake on', async () => {
    const prefix = `brake-bad-${process.pid}`;
    await redis.set(`${prefix}:detector:storm-brake`, '{not json');
    expect((await new StormBrakeStore(redis, prefix).load()).active).toBe(true);
  });
});
