import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort, waitForTcp } from './ports.js';
import { ProcessGroup } from './processes.js';

export interface SentinelSet {
  readonly masterName: string;
  /** Ports of the three redis-servers; the first starts as master. */
  readonly redisPorts: readonly number[];
  readonly sentinelPorts: readonly number[];
  /** `sentinels = ...` for [redis]. */
  readonly sentinelsSetting: string;
  /** The port of the current master, as the sentinels say. */
  masterPort(): Promise<number>;
  /** SIGKILLs the redis-server that is master now; returns its port. */
  killMaster(): Promise<number>;
  /** Resolves once the sentinels name a master other than `oldPort` (bounded). */
  waitForFailover(oldPort: number, timeoutMs?: number): Promise<number>;
  stop(): Promise<void>;
}

const MASTER = 'cmpha-test';

/**
 * Three redis-servers (one master, two replicas) and three redis-sentinels with quorum 2, all on loopback
 * free ports, with the settings docs/operations.md recommends (AOF, fsync every second, noeviction,
 * min-replicas-to-write 1).
 * Failure detection is shortened (1 s down-after) so a test's failover takes seconds. Stop by pid in stop().
 */
export async function startSentinelSet(): Promise<SentinelSet> {
  const group = new ProcessGroup();
  const dir = mkdtempSync(path.join(tmpdir(), 'cmpha-sentinel-'));
  const redisPorts = [await freePort(), await freePort(), await freePort()];
  const sentinelPorts = [await freePort(), await freePort(), await freePort()];
  const servers = new Map<number, ChildProcess>();
  const persistence = ['--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--maxmemory-policy', 'noeviction',
    '--min-replicas-to-write', '1', '--min-replicas-max-lag', '10'];
  for (const [i, port] of redisPorts.entries()) {
    const d = path.join(dir, `redis-${i}`);
    mkdirSync(d, { recursive: true });
    const args = ['--bind', '127.0.0.1', '--port', String(port), '--dir', d, ...persistence,
      ...(i === 0 ? [] : ['--replicaof', '127.0.0.1', String(redisPorts[0])])];
    servers.set(port, group.start('redis-server', args));
    await waitForTcp(port);
  }
  await waitForReplicas(redisPorts[0]!, 2);
  for (const [i, port] of sentinelPorts.entries()) {
    const conf = path.join(dir, `sentinel-${i}.conf`);
    writeFileSync(conf, [
      `port ${port}`, 'bind 127.0.0.1', `dir ${dir}`,
      `sentinel monitor ${MASTER} 127.0.0.1 ${redisPorts[0]} 2`,
      `sentinel down-after-milliseconds ${MASTER} 1000`,
      `sentinel failover-timeout ${MASTER} 5000`,
      `sentinel parallel-syncs ${MASTER} 1`, '',
    ].join('\n'));
    group.start('redis-sentinel', [conf]);
    await waitForTcp(port);
  }
  // Sentinels find each other through the master's hello channel: wait until each knows the other two.
  await until(async () => {
    for (const port of sentinelPorts) {
      const info = await sentinelCmd(port, ['master', MASTER]) as string[];
      const i = info.indexOf('num-other-sentinels');
      if (i < 0 || Number(info[i + 1]) < 2) return false;
    }
    return true;
  }, 20_000, 'sentinels to discover each other');

  const set: SentinelSet = {
    masterName: MASTER,
    redisPorts,
    sentinelPorts,
    sentinelsSetting: sentinelPorts.map((p) => `127.0.0.1:${p}`).join(','),
    async masterPort() {
      const addr = await sentinelCmd(sentinelPorts[0]!, ['get-master-addr-by-name', MASTER]) as [string, string];
      return Number(addr[1]);
    },
    async killMaster() {
      const port = await set.masterPort();
      await group.stop(servers.get(port)!, 'SIGKILL');
      return port;
    },
    async waitForFailover(oldPort, timeoutMs = 30_000) {
      let now = oldPort;
      await until(async () => {
        now = await set.masterPort().catch(() => oldPort);
        return now !== oldPort;
      }, timeoutMs, 'the sentinels to promote a replica');
      return now;
    },
    async stop() {
      await group.stopAll();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return set;
}

async function sentinelCmd(port: number, args: string[]): Promise<unknown> {
  const r = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return await r.call('SENTINEL', ...args);
  } finally {
    r.disconnect();
  }
}

async function waitForReplicas(masterPort: number, n: number): Promise<void> {
  const r = new Redis({ host: '127.0.0.1', port: masterPort, maxRetriesPerRequest: 1 });
  r.on('error', () => undefined);
  try {
    await until(async () => {
      const info = await r.info('replication');
      return (info.match(/^slave\d+:.*state=online/gm) ?? []).length >= n;
    }, 20_000, `${n} replicas to sync`);
  } finally {
    r.disconnect();
  }
}

async function until(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
