import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CmphaError } from '../shared/errors.js';
import { silentLogger, type Logger } from '../shared/logger.js';
import { buildWorld, type WorldOptions } from './build-world.js';
import { renderSimConfig } from './config.js';
import type { FaultSettings } from './control.js';
import { NetnsManager } from './netns.js';
import { startSimHttp, type SimHttp } from './sim-server.js';
import type { World } from './world.js';

export { buildWorld, addServer, type WorldOptions, type NewServerSpec } from './build-world.js';
export { renderSimConfig, type SimUrls } from './config.js';
export type { FaultSettings, RecordedCall } from './control.js';
export { World } from './world.js';

export interface SimOptions extends WorldOptions {
  /** HOST:PORT on loopback; port 0 picks a free one. Default 127.0.0.1:0. */
  listen?: string;
  /** Put hosts and server addresses in network namespaces (root only, at most 64 hosts). */
  netns?: boolean;
  /** Initial fault injection (also settable through POST /sim/faults). */
  faults?: Partial<FaultSettings>;
  /** Directory for the generated cmpha.conf; a fresh temporary one (removed on close) by default. */
  configDir?: string;
  logger?: Logger;
}

export interface RunningSim {
  /** Keystone v3: http://127.0.0.1:PORT/identity/v3 */
  readonly authUrl: string;
  /** The control API's base: http://127.0.0.1:PORT (endpoints under /sim/...). */
  readonly controlUrl: string;
  /** A ready cmpha.conf for this world. */
  readonly configPath: string;
  readonly world: World;
  readonly http: SimHttp;
  readonly netns: NetnsManager | null;
  close(): Promise<void>;
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(listen.trim());
  if (!m) throw new CmphaError('sim_bad_listen', `--listen must be HOST:PORT (got ${listen})`);
  const host = m[1]!.replace(/^\[|\]$/g, '');
  const port = Number(m[2]);
  if (port > 65535) throw new CmphaError('sim_bad_listen', `port ${port} is out of range`);
  if (!/^127\.\d+\.\d+\.\d+$/.test(host) && host !== '::1' && host !== 'localhost') {
    throw new CmphaError('sim_bad_listen', `the simulator listens on loopback only (got ${host})`);
  }
  return { host: host === 'localhost' ? '127.0.0.1' : host, port };
}

/** Builds a world, serves it over HTTP (and namespaces when asked) and writes a cmpha.conf for it. */
export async function runSim(options: SimOptions = {}): Promise<RunningSim> {
  const log = options.logger ?? silentLogger;
  const { host, port } = parseListen(options.listen ?? '127.0.0.1:0');
  const started = Date.now();
  const world = buildWorld(options);
  if (options.netns && process.getuid?.() !== 0) {
    throw new CmphaError('sim_netns_not_root', '--netns needs root: it creates network namespaces, veth pairs and a bridge');
  }
  let netns: NetnsManager | null = null;
  const http = await startSimHttp(world, {
    host, port, logger: log,
    ...(options.faults ? { faults: options.faults } : {}),
    afterChange: async () => { await netns?.flush(); },
    netnsInfo: () => netns?.info() ?? null,
  });
  try {
    if (options.netns) netns = await NetnsManager.create(world, log);
  } catch (err) {
    await http.close();
    throw err;
  }
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const base = `http://${hostPart}:${http.port}`;
  const ownDir = options.configDir === undefined;
  const dir = options.configDir ?? mkdtempSync(path.join(tmpdir(), 'cmpha-sim-'));
  const configPath = path.join(dir, 'cmpha.conf');
  const urls = { authUrl: `${base}/identity/v3`, controlUrl: base, redfishAddress: host, redfishPort: http.port };
  writeFileSync(configPath, renderSimConfig(world, urls), { mode: 0o600 });
  log.info({ hosts: world.hostList.length, servers: world.serverList.length, ms: Date.now() - started }, 'simulated cloud ready');
  let closed = false;
  return {
    authUrl: urls.authUrl,
    controlUrl: base,
    configPath,
    world,
    http,
    netns,
    async close() {
      if (closed) return;
      closed = true;
      await netns?.close();
      await http.close();
      world.removeAllListeners();
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
