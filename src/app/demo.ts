import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CONFIG_CHECKS } from './config-checks.js';
import { loadConfig } from '../config/load.js';
import type { Config, NotifierConfig } from '../config/types.js';
import type { Verdict } from '../detector/types.js';
import type { Incident, InstanceEntry } from '../incidents/types.js';
import { formatDuration } from '../shared/duration.js';
import { storageIpFor } from '../sim/ceph.js';
import { runSim, type RunningSim } from '../sim/index.js';
import { CmphaError, errorMessage } from '../shared/errors.js';
import { silentLogger, type Logger } from '../shared/logger.js';
import { sleep } from '../shared/time.js';
import { startController, type Controller } from './controller.js';

export interface DemoOptions {
  readonly out: NodeJS.WritableStream;
  readonly logger?: Logger;
  /** Host to power off (default: the first compute host with servers). */
  readonly host?: string;
  /** Whole demo bound; it stops by itself. */
  readonly timeoutMs?: number;
  /** Ends the demo early (Ctrl-C); everything started is still stopped. */
  readonly signal?: AbortSignal;
  /** The simulated cloud: OpenStack (default) or a Cloudpods region. */
  readonly cloud?: 'openstack' | 'cloudpods';
}

/**
 * The one-command demo: Redis and a simulated cloud on loopback, cmpha against them, one host powered off,
 * and the failover printed as it happens. Everything it starts it stops, by pid, before returning.
 */
export async function runDemo(opts: DemoOptions): Promise<number> {
  const out = (line: string) => {
    if (!opts.signal?.aborted) opts.out.write(`${line}\n`);
  };
  const cleanups: (() => Promise<void>)[] = [];
  const started = Date.now();
  const deadline = started + (opts.timeoutMs ?? 200_000);
  let powerOffAt: number | null = null;
  try {
    const redis = await startRedis();
    cleanups.push(redis.stop);
    const cloud = opts.cloud ?? 'openstack';
    const sim = await runSim({ hosts: 4, instancesPerHost: 5, spares: 1, reportIntervalSeconds: 1, serviceDownTimeSeconds: 8, evacuateSeconds: 2, seed: 7, cloud });
    cleanups.push(() => sim.close());
    // The detector's verdicts and the notifications received, printed among the incident's timeline in time order.
    const detected: Line[] = [];
    const sink = await startSink((msg) => { detected.push({ at: Date.now(), step: 'notify', message: msg }); });
    cleanups.push(sink.close);

    const victim = opts.host ?? sim.world.hostList.find((h) => sim.world.serverList.some((s) => s.host === h.name))?.name;
    if (!victim) throw new CmphaError('demo_failed', 'the simulated world has no host with servers');
    // The second failure fences by storage: the Ceph fence finds a host's disks through Nova and Cinder (OpenStack only).
    const victim2 = cloud === 'cloudpods' ? undefined
      : sim.world.hostList.find((h) => h.name !== victim && !h.spare && sim.world.serverList.some((x) => x.host === h.name && x.vmState === 'active'))?.name;
    const config = await demoConfig(sim, redis.port, sink.url, victim, victim2);
    const servers = sim.world.serverList.filter((s) => s.host === victim);

    if (cloud === 'cloudpods') {
      out('cmpha demo: a simulated Cloudpods region (Keystone-v3 identity, the compute_v2 region API, Redfish BMCs) on loopback, Redis, and cmpha.');
      out(`  cloud: ${sim.world.hostList.length} KVM hosts (${sim.world.hostList.map((h) => h.name).join(', ')}), ${sim.world.serverList.length} guests; host agents ping every 1 s, offline after 8 s without a ping`);
    } else {
      out('cmpha demo: a simulated OpenStack cloud (Keystone, Nova, Redfish BMCs) on loopback, Redis, and cmpha.');
      out(`  cloud: ${sim.world.hostList.length} hosts (${sim.world.hostList.map((h) => h.name).join(', ')}), ${sim.world.serverList.length} servers; Nova report_interval 1 s, service_down_time 8 s`);
    }
    out(`  cmpha: detector every ${config.detector.intervalMs / 1000} s, suspects re-probed every ${config.detector.probeIntervalMs / 1000} s, dead after ${config.detector.minSilenceMs / 1000} s of silence and a missed heartbeat; fencing over Redfish`);
    out(`  ${victim} runs ${servers.length} servers: ${servers.map((s) => `${s.name} (${s.vmState})`).join(', ')}`);
    out('');

    let lastVerdict = '';
    let victimNow = victim;
    let controller: Controller | null = null;
    controller = await startController(config, {
      logger: opts.logger ?? silentLogger,
      metrics: false,
      onRound(report) {
        const h = report?.hosts.find((x) => x.host === victimNow);
        if (h && h.verdict !== lastVerdict && powerOffAt !== null) {
          lastVerdict = h.verdict;
          // A dead verdict is judged on the round's observation, before the incident it opens; any other is known
          // when the round ends (a host disabled by the recovery is seen so only after the write).
          const at = h.verdict === 'dead' ? report!.startedAt : report!.startedAt + report!.durationMs;
          detected.push({ at, step: 'detect', message: `${victimNow} ${VERDICT_WORDS[h.verdict]}` });
        }
      },
    });
    cleanups.unshift(() => controller!.stop());

    // Let the detector take a baseline of a healthy cloud (instance IPs that answer) before the failure.
    await sleep(2500, opts.signal);
    powerOffAt = Date.now();
    await control(sim, `/sim/hosts/${victim}/power-off`);
    out(`  ${clock(powerOffAt)}  world    ${victim} loses power (no heartbeats, every address silent)`);

    const first = await followIncident(controller, sim, victim, powerOffAt, deadline, out, detected, opts.signal);
    if (first !== 'resolved') return 1;

    // The second failure: a host whose BMC is dead hangs. Its power cannot be proven off, so its fence levels
    // go on to the storage fence (its Ceph clients blocklisted), and the proof shows one writer per disk.
    if (!victim2) return 0;
    const servers2 = sim.world.serverList.filter((x) => x.host === victim2);
    out('');
    out(`second failure: ${victim2} (${servers2.length} servers, disks on Ceph as vms/<uuid>_disk) hangs and its BMC is dead; fence levels: redfish | ceph`);
    await control(sim, `/sim/hosts/${victim2}/bmc`, { mode: 'unreachable' });
    powerOffAt = Date.now();
    lastVerdict = '';
    victimNow = victim2;
    detected.length = 0;
    await control(sim, `/sim/hosts/${victim2}/hang`);
    out(`  ${clock(powerOffAt)}  world    ${victim2} hangs (no heartbeats, every address silent; its storage client still holds its disks' watches)`);
    const second = await followIncident(controller, sim, victim2, powerOffAt, deadline, out, detected, opts.signal);
    return second === 'resolved' ? 0 : 1;
  } catch (err) {
    if (opts.signal?.aborted) return 130;
    throw err;
  } finally {
    for (const c of cleanups) {
      try {
        await c();
      } catch (err) {
        opts.out.write(`cmpha demo: cleanup: ${errorMessage(err)}\n`);
      }
    }
  }
}


/** One printed line of a failure: when, which step, what. */
interface Line { readonly at: number; readonly step: string; readonly message: string }

/** A verdict as a sentence about the host. */
const VERDICT_WORDS: Readonly<Record<Verdict, string>> = {
  healthy: 'is healthy',
  maintenance: 'is disabled in Nova (cmpha\'s recovery disabled it): no longer judged',
  suspect: 'is suspect: its addresses went silent',
  unprobeable: 'cannot be probed',
  'agent-down': 'answers but its nova-compute does not report',
  'isolated-mgmt': 'has lost its management network but other addresses answer',
  dead: 'is dead: Nova down, management IP and instance IPs silent',
};

/** Timeline entries are printed this long after their time, so one written a moment late still prints in order. */
const SETTLE_MS = 1000;

/** Prints the victim's incident timeline as it grows; then where each server ended. Returns the final status. */
async function followIncident(
  controller: Controller, sim: RunningSim, victim: string, since: number, deadline: number, out: (line: string) => void,
  detected: Line[], signal?: AbortSignal,
): Promise<string | null> {
  let incident: Incident | null = null;
  const printed = new Set<string>();
  // In time order: an entry is appended when its step ends, which can be after a later-stamped one.
  const print = (all: boolean) => {
    const fresh = [...(incident?.timeline ?? []), ...detected].filter((e) => !printed.has(`${e.at}|${e.step}|${e.message}`) && (all || e.at <= Date.now() - SETTLE_MS));
    for (const e of fresh.sort((a, b) => a.at - b.at)) {
      printed.add(`${e.at}|${e.step}|${e.message}`);
      out(`  ${clock(since, e.at)}  ${e.step.padEnd(8)} ${e.message}`);
    }
  };
  while (Date.now() < deadline && !signal?.aborted) {
    const id = await controller.recovery.incidents.openIncidentFor(victim) ?? incident?.id ?? null;
    if (id) incident = await controller.recovery.incidents.get(id);
    if (incident && ['resolved', 'partial', 'failed', 'aborted'].includes(incident.status)) break;
    print(false);
    await sleep(200, signal);
  }
  // Let the final notifications reach the sink before stopping.
  await sleep(1500, signal);
  print(true);
  out('');
  if (!incident || !['resolved', 'partial', 'failed', 'aborted'].includes(incident.status)) {
    out(`cmpha demo: the failover of ${victim} did not finish in time`);
    return null;
  }
  out(`incident ${incident.id}: ${incident.status.toUpperCase()} ${(((incident.closedAt ?? Date.now()) - since) / 1000).toFixed(1)} s after the failure`);
  const state = await (await fetch(`${sim.controlUrl}/sim/state`)).json() as { servers: { id: string; host: string; status: string }[] };
  for (const i of incident.instances) {
    const now = state.servers.find((s) => s.id === i.id);
    const where = now === undefined ? `${i.source} -> deleted` : now.host === i.source ? `stays on ${i.source}` : `${i.source} -> ${now.host}`;
    out(`  ${i.name.padEnd(14)} ${where}  ${now?.status ?? ''}  (${i.state}${i.skipReason ? `: ${i.skipReason}` : ''})${downtime(i, since)}`);
  }
  const lastActive = Math.max(0, ...incident.instances.map((i) => i.activeAt ?? 0));
  const lastBack = Math.max(0, ...incident.instances.map((i) => i.backAt ?? 0));
  if (lastActive > 0) {
    out(`  last server ACTIVE in Nova's API ${clock(since, lastActive)} after the failure${lastBack > 0 ? `; last address answering again ${clock(since, lastBack)}` : ''}`);
  }
  return incident.status;
}

/** What the instance's users lived through: from its last answer before the power loss to its first answer after. */
function downtime(i: InstanceEntry, powerOffAt: number): string {
  if (i.downtimeMs === undefined || i.downFrom === undefined) return '';
  const to = i.backAt !== undefined ? `first answer on ${i.target} ${clock(powerOffAt, i.backAt)}` : `verified ${clock(powerOffAt, i.verifiedAt ?? i.downFrom + i.downtimeMs)}`;
  return `, unreachable ${formatDuration(i.downtimeMs)} (last answer ${clock(powerOffAt, i.downFrom)}, ${to})`;
}

function clock(from: number | null, at = Date.now()): string {
  const d = (at - (from ?? at)) / 1000;
  return `${d < 0 ? '-' : '+'}${Math.abs(d).toFixed(1).padStart(5)}s`;
}

async function control(sim: RunningSim, p: string, body?: unknown): Promise<void> {
  const r = await fetch(`${sim.controlUrl}${p}`, {
    method: 'POST', ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  if (!r.ok) throw new CmphaError('demo_failed', `simulator ${p}: HTTP ${r.status}`);
}

/**
 * The simulator's config, tuned for a short demo, with Redis and a notification sink. Disks are on the
 * simulator's Ceph: every host but the first victim has storage_ips (the first keeps its power-off-only story),
 * and the second victim's levels are redfish | ceph.
 */
async function demoConfig(sim: RunningSim, redisPort: number, sinkUrl: string, victim: string, victim2: string | undefined): Promise<Config> {
  const base = await loadConfig({ path: sim.configPath, env: {}, checks: CONFIG_CHECKS });
  const sink: NotifierConfig = {
    name: 'demo-sink', type: 'webhook', events: ['*'], minSeverity: 'info', audience: 'admins', recipients: ['ops-team'],
    options: { preset: 'generic-json', url: sinkUrl },
  };
  return {
    ...base,
    detector: { ...base.detector, intervalMs: 1000, heartbeatTimeoutMs: 3000, heartbeatIntervalMs: 1000, minSilenceMs: 2000, leaderLeaseMs: 5000 },
    fencing: { ...base.fencing, pollIntervalMs: 200, timeoutMs: 10_000 },
    evacuation: { ...base.evacuation, staggerMs: 50, verifyPollIntervalMs: 300, verifyTimeoutMs: 60_000 },
    notifiers: [sink],
    redis: { ...base.redis, url: `redis://127.0.0.1:${redisPort}`, prefix: 'cmpha-demo' },
    // A Cloudpods region's guests' disks are not read through Nova and Cinder: no storage fence in its demo.
    ...(base.cloud.type === 'cloudpods' ? { hosts: base.hosts } : demoStorage(sim, base, victim, victim2)),
  };
}

/** The Ceph part of the OpenStack demo: the simulator's cluster, storage addresses, and the second victim's levels. */
function demoStorage(sim: RunningSim, base: Config, victim: string, victim2: string | undefined): Pick<Config, 'ceph' | 'hosts'> {
  return {
    ceph: {
      user: 'cmpha', keyringFile: '', imagesRbdPool: 'vms', blocklistExpireS: 3600, confirmTimeoutMs: 10_000,
      commandTimeoutMs: 5000, writerProofTimeoutMs: 20_000, python: '/usr/bin/python3', simUrl: sim.controlUrl,
    },
    hosts: Object.fromEntries(Object.entries(base.hosts).map(([name, h]) => {
      const simHost = sim.world.host(name);
      // The first victim's story is power-off alone: no storage addresses, so no storage fence either.
      if (name === victim) return [name, { ...h, storageIps: [] }];
      if (!simHost) return [name, h];
      return [name, { ...h, storageIps: [storageIpFor(simHost)], ...(name === victim2 ? { fenceLevels: [['redfish'], ['ceph']] as const } : {}) }];
    })),
  };
}

/** A local HTTP endpoint standing in for a chat or SMS gateway: prints what it receives. */
async function startSink(print: (line: string) => void): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => { body += d; }).on('end', () => {
      try {
        const msg = JSON.parse(body) as { severity?: string; sms?: string; summary?: string; event?: string };
        print(`[${msg.severity ?? 'info'}] ${msg.sms || msg.summary || msg.event || body}`);
      } catch {
        print(body.slice(0, 200));
      }
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().on('error', reject).listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** A throwaway redis-server on a free loopback port, stopped by its pid. */
async function startRedis(): Promise<{ port: number; stop: () => Promise<void> }> {
  const bin = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => existsSync(p));
  if (!bin) throw new CmphaError('demo_needs_redis', 'the demo needs redis-server: apt-get install -y redis-server (npm run demo installs it when run as root)');
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'cmpha-demo-redis-'));
  const child: ChildProcess = spawn(bin, ['--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' }).once('connect', () => { s.destroy(); resolve(true); }).once('error', () => resolve(false));
    });
    if (ok) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new CmphaError('demo_redis_failed', `redis-server did not start on 127.0.0.1:${port}`);
    await sleep(50);
  }
  return {
    port,
    async stop() {
      if (child.exitCode === null && child.pid !== undefined) {
        const exited = new Promise((r) => child.once('exit', r));
        process.kill(child.pid, 'SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
