import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort, waitForTcp } from './ports.js';
import { ProcessGroup } from './processes.js';

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Kills the server (SIGKILL) and starts it again on the same port, empty unless `persist` was set. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts a real redis-server on a free loopback port. Always call stop() (afterAll). With `password`, clients
 * must AUTH; it goes through a config file (mode 0600), never argv, so no command line shows it.
 */
export async function startRedis(opts: { persist?: boolean; password?: string } = {}): Promise<RedisServer> {
  const group = new ProcessGroup();
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'cmpha-redis-'));
  const conf: string[] = [];
  if (opts.password !== undefined) {
    const file = path.join(dir, 'redis.conf');
    writeFileSync(file, `requirepass "${opts.password}"\n`, { mode: 0o600 });
    conf.push(file);
  }
  const args = [...conf, '--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--save', '', '--appendonly', opts.persist ? 'yes' : 'no'];
  let child = group.start('redis-server', args);
  await waitForTcp(port);
  await ping(port, opts.password);
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async restart() {
      await group.stop(child, 'SIGKILL');
      child = group.start('redis-server', args);
      await waitForTcp(port);
      await ping(port, opts.password);
    },
    async stop() {
      await group.stopAll();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function ping(port: number, password?: string): Promise<void> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1, ...(password !== undefined ? { password } : {}) });
  try {
    await r.connect();
    await r.ping();
  } finally {
    r.disconnect();
  }
}
