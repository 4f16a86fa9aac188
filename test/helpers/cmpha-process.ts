import type { ChildProcess } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import type { RunningSim } from '../../src/sim/index.js';
import { layerConfig } from './layer-config.js';
import { freePort } from './ports.js';
import type { ProcessGroup } from './processes.js';

export interface SimCall {
  readonly method: string;
  readonly path: string;
  readonly service: string;
  readonly body: unknown;
}

export interface CmphaRun {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly metricsPort: number;
  /** Everything it wrote to stderr (JSON log lines) so far. */
  logs(): string;
  /** Resolves with the time (Date.now()) the first log line matching `re` arrived; rejects after timeoutMs or on exit. */
  waitForLog(re: RegExp, timeoutMs: number): Promise<number>;
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

export interface RunConfigOptions {
  /** Lines for [redis] (url or sentinels...). */
  readonly redis: readonly string[];
  readonly prefix: string;
  readonly metricsPort?: number;
  readonly leaseSeconds?: number;
  /** More [evacuation] keys, e.g. concurrency = 1. */
  readonly evacuation?: readonly string[];
  readonly extra?: readonly string[];
}

let n = 0;

/** A copy of the simulator's cmpha.conf with the sections a `cmpha run` test needs; one per replica. */
export async function writeRunConfig(sim: RunningSim, opts: RunConfigOptions): Promise<{ path: string; metricsPort: number }> {
  const metricsPort = opts.metricsPort ?? await freePort();
  const path = `${sim.configPath}.${process.pid}.${++n}.conf`;
  copyFileSync(sim.configPath, path);
  // Laid over the simulator's sections (each section once, as an operator edits the file).
  const overrides: Record<string, Record<string, string>> = {};
  let section = '';
  for (const line of [
    '[detector]', 'interval = 1s', 'heartbeat_timeout = 3s', `leader_lease = ${opts.leaseSeconds ?? 5}s`,
    '[fencing]', 'poll_interval = 200ms',
    '[evacuation]', 'verify_poll_interval = 300ms', 'stagger = 50ms', ...(opts.evacuation ?? []),
    '[redis]', ...opts.redis, `prefix = ${opts.prefix}`,
    '[metrics]', `listen = 127.0.0.1:${metricsPort}`,
    '[logging]', 'format = json',
    ...(opts.extra ?? []),
  ]) {
    const header = /^\s*\[([^\]]+)\]\s*$/.exec(line);
    const kv = /^\s*([^=#;\s][^=]*?)\s*=\s*(.*)$/.exec(line);
    if (header) section = header[1]!;
    else if (kv) (overrides[section] ??= {})[kv[1]!] = kv[2]!;
  }
  layerConfig(path, overrides);
  return { path, metricsPort };
}

const BIN = new URL('../../bin/cmpha.js', import.meta.url).pathname;

/** Starts `cmpha run --config PATH` as operators do (built CLI); stopped by the group, by pid. */
export function startCmphaRun(group: ProcessGroup, config: { path: string; metricsPort: number }): CmphaRun {
  const child = group.start(process.execPath, [BIN, 'run', '--config', config.path]);
  let logs = '';
  const waiters = new Set<() => void>();
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    logs += d;
    for (const w of waiters) w();
  });
  let exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }> | undefined;
  const exited = () => {
    exit ??= child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve({ code: child.exitCode, signal: child.signalCode, at: Date.now() })
      : new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
    return exit;
  };
  exited();
  return {
    child,
    pid: child.pid!,
    metricsPort: config.metricsPort,
    logs: () => logs,
    exited,
    waitForLog(re, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (re.test(logs)) {
            done();
            resolve(Date.now());
          }
        };
        const timer = setTimeout(() => { done(); reject(new Error(`no log line matching ${re} within ${timeoutMs} ms; last output: ${logs.slice(-1500)}`)); }, timeoutMs);
        const onExit = () => { done(); if (!re.test(logs)) reject(new Error(`exited before logging ${re}; last output: ${logs.slice(-1500)}`)); else resolve(Date.now()); };
        function done() {
          clearTimeout(timer);
          waiters.delete(check);
          child.off('exit', onExit);
        }
        waiters.add(check);
        child.once('exit', onExit);
        check();
      });
    },
  };
}

/** The simulator's log of mutating calls. */
export async function simCalls(sim: RunningSim): Promise<SimCall[]> {
  return await (await fetch(`${sim.controlUrl}/sim/calls`)).json() as SimCall[];
}

export const isEvacuatePost = (c: SimCall) => c.service === 'nova' && c.method === 'POST' && /\/action$/.test(c.path)
  && typeof c.body === 'object' && c.body !== null && 'evacuate' in c.body;

/** Ids of the servers that cmpha should move off `host` (active or error), from the simulator's truth. */
export function movableServers(sim: RunningSim, host: string): string[] {
  return sim.world.serverList.filter((s) => s.host === host && (s.vmState === 'active' || s.vmState === 'error')).map((s) => s.id);
}

/** True once every server is ACTIVE on `spare`, per the simulator. */
export async function allActiveOn(sim: RunningSim, ids: readonly string[], spare: string): Promise<boolean> {
  type State = { servers: { id: string; host: string; status: string }[] };
  const st = await (await fetch(`${sim.controlUrl}/sim/state`)).json() as State;
  return ids.every((id) => { const s = st.servers.find((x) => x.id === id); return s?.host === spare && s.status === 'ACTIVE'; });
}

export async function until(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Count of evacuate POSTs per server id. */
export function evacuationsPerServer(calls: readonly SimCall[]): Map<string, number> {
  const per = new Map<string, number>();
  for (const c of calls.filter(isEvacuatePost)) {
    const id = /\/servers\/([^/]+)\/action/.exec(c.path)?.[1] ?? '?';
    per.set(id, (per.get(id) ?? 0) + 1);
  }
  return per;
}
