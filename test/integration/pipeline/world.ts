import { afterAll, afterEach, beforeAll } from 'vitest';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { newRedis } from '../../unit/pipeline/harness.js';
import type { Redis } from 'ioredis';
import { loadConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/types.js';
import type { Incident } from '../../../src/incidents/types.js';
import type { NotificationEvent, NotificationService, DeliveryRecord } from '../../../src/notifier/types.js';
import { createOpenStack } from '../../../src/openstack/index.js';
import type { NeutronApi, NovaApi, PlacementApi, Server, VolumeApi } from '../../../src/openstack/types.js';
import { novaComputeOf } from '../../../src/openstack/compute-service.js';
import type { HostAliveCheck } from '../../../src/pipeline/steps/recheck-alive.js';
import { createRecovery, type Recovery, type RecoveryDeps } from '../../../src/pipeline/create-recovery.js';
import { fenceDriversFromConfig } from '../../../src/app/fence-parts.js';
import { silentLogger } from '../../../src/shared/logger.js';
import type { Clock } from '../../../src/shared/time.js';
import { runSim, type RecordedCall, type RunningSim, type SimOptions } from '../../../src/sim/index.js';
import { computeOf } from '../../helpers/compute.js';

export class RecordingNotifier implements NotificationService {
  readonly events: NotificationEvent[] = [];
  async notify(e: NotificationEvent): Promise<readonly DeliveryRecord[]> {
    this.events.push(e);
    return [{ channel: 'test', recipient: 'ops', event: e.type, ok: true, at: e.at, attempts: 1 }];
  }
}

/**
 * Nova's view only, on the simulator's clock: up, not forced down, and a heartbeat no older than
 * `heartbeatTimeoutMs`. Combined with the simulator's answer for the management address, it stands in for the
 * controller's probe-based check in pipeline tests that build the recovery themselves.
 */
export function novaLivenessCheck(nova: NovaApi, heartbeatTimeoutMs: number, clock: Clock): HostAliveCheck {
  return async (host, signal) => {
    const svc = novaComputeOf(await nova.listComputeServices({ host, signal }), host);
    if (!svc || svc.forcedDown || svc.state !== 'up') return false;
    return svc.updatedAt !== null && clock.now() - svc.updatedAt.getTime() <= heartbeatTimeoutMs;
  };
}

/** Any of the checks seeing life means alive. */
export function anyAlive(...checks: HostAliveCheck[]): HostAliveCheck {
  return async (host, signal) => {
    for (const c of checks) if (await c(host, signal)) return true;
    return false;
  };
}

/** Fast queue settings: a killed worker's jobs move on after about two seconds. */
export const FAST_QUEUE = { lockDurationMs: 2000, stalledIntervalMs: 1000, backoffMs: 200, unknownSettleMs: 1500 };

let seq = 0;

/** The cloud clients a test may give a recovery instead of the world's own. */
export interface CloudClients {
  readonly nova?: NovaApi;
  readonly neutron?: NeutronApi;
  readonly placement?: PlacementApi;
}

export interface PipelineWorld {
  readonly sim: RunningSim;
  readonly config: Config;
  readonly nova: NovaApi;
  readonly neutron: NeutronApi;
  /** Servers' attached volumes (Nova + Cinder), as the storage fence reads them. */
  readonly volumes: VolumeApi;
  readonly notifier: RecordingNotifier;
  readonly isHostAlive: HostAliveCheck;
  /** A recovery over this cloud; `nova`, `neutron` and `placement` replace the clients the compute backend is built on. */
  recovery(redis: Redis, extra?: Partial<RecoveryDeps> & CloudClients): Recovery;
  control(host: string, action: string, body?: unknown): Promise<void>;
  faults(body: Record<string, unknown>): Promise<void>;
  /** Faults the simulator injected so far. */
  injectedFaults(): Promise<{ errors: number; drops: number; dropsAfter: number }>;
  calls(): Promise<RecordedCall[]>;
  serversOn(host: string): Promise<Server[]>;
  waitNovaDown(host: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * A simulated cloud with short timings, the real OpenStack client, Redfish fencing through the simulator's
 * BMCs and a config pointing at a test Redis. Nova sees a dead host as down after 2 s.
 */
export async function pipelineWorld(opts: SimOptions & { evacuation?: Partial<Config['evacuation']>; redisUrl: string }): Promise<PipelineWorld> {
  const { evacuation, redisUrl, ...simOpts } = opts;
  const sim = await runSim({ reportIntervalSeconds: 0.5, serviceDownTimeSeconds: 2, bootSeconds: 0.2, cleanupSeconds: 0.3, evacuateSeconds: 0.4, ...simOpts });
  const loaded = await loadConfig({ path: sim.configPath, env: {} });
  const config: Config = {
    ...loaded,
    detector: { ...loaded.detector, heartbeatTimeoutMs: 1500 },
    fencing: { ...loaded.fencing, timeoutMs: 5000, pollIntervalMs: 100, attempts: 2 },
    evacuation: { ...loaded.evacuation, verifyPollIntervalMs: 100, verifyTimeoutMs: 20_000, staggerMs: 0, maxPerMinute: 10_000, ...evacuation },
    redis: { ...loaded.redis, url: redisUrl, prefix: `pl${process.pid}-${++seq}` },
  };
  const { nova, neutron, volumes, images } = createOpenStack(config.cloud, { logger: silentLogger, retryBaseDelayMs: 20 });
  const notifier = new RecordingNotifier();
  const post = async (path: string, body?: unknown) => {
    const r = await fetch(`${sim.controlUrl}${path}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
    return r.json() as Promise<unknown>;
  };
  const mgmtAlive: HostAliveCheck = async (host) => {
    const ip = config.hosts[host]?.mgmtIp;
    if (!ip) return false;
    const answers = (await post('/sim/probe', { addresses: [ip] })) as Record<string, boolean>;
    return answers[ip] === true;
  };
  const isHostAlive = anyAlive(novaLivenessCheck(nova, config.detector.heartbeatTimeoutMs, sim.world.clock), mgmtAlive);
  const recoveries: Recovery[] = [];
  return {
    sim, config, nova, neutron, volumes, notifier, isHostAlive,
    recovery(redis, extra = {}) {
      const { nova: n = nova, neutron: ports, placement, ...rest } = extra;
      const compute = computeOf(n, { config: rest.config ?? config, images, ...(ports ? { neutron: ports } : {}), ...(placement ? { placement } : {}) });
      const r = createRecovery({
        config, connection: redis, compute, notifier, isHostAlive, logger: silentLogger,
        fenceDriverFor: fenceDriversFromConfig(config, silentLogger), queue: FAST_QUEUE, ...rest,
      });
      recoveries.push(r);
      return r;
    },
    control: async (host, action, body) => { await post(`/sim/hosts/${host}/${action}`, body); },
    faults: async (body) => { await post('/sim/faults', body); },
    injectedFaults: async () => ((await (await fetch(`${sim.controlUrl}/sim/faults`)).json()) as { injected: { errors: number; drops: number; dropsAfter: number } }).injected,
    calls: async () => (await (await fetch(`${sim.controlUrl}/sim/calls`)).json()) as RecordedCall[],
    serversOn: (host) => nova.listServersOnHost(host),
    async waitNovaDown(host) {
      await waitFor(`Nova to see ${host} down`, async () => (await nova.listComputeServices({ host }))[0]?.state === 'down', 10_000);
    },
    async close() {
      for (const r of recoveries) await r.stop();
      await sim.close();
    },
  };
}

export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Waits until the incident is closed, or in one of `alsoStop` (e.g. awaiting_fence, where it stays until a human acts). */
export async function waitClosed(recovery: Pick<Recovery, 'incidents'>, id: string, timeoutMs = 45_000, alsoStop: readonly string[] = []): Promise<Incident> {
  let last: Incident | null = null;
  try {
    await waitFor(`incident ${id} to close`, async () => {
      last = await recovery.incidents.get(id);
      return !!last && ['resolved', 'partial', 'failed', 'aborted', ...alsoStop].includes(last.status);
    }, timeoutMs, 200);
  } catch (err) {
    const l = last as Incident | null;
    throw new Error(`${(err as Error).message}; status ${l?.status}; timeline:\n${l?.timeline.map((t) => `  ${t.step}: ${t.message}`).join('\n')}`);
  }
  return last!;
}

/** Mutating calls about one host or its servers, in the order the simulator received them. */
export function callsAbout(calls: readonly RecordedCall[], host: string, serverIds: readonly string[], serviceId: string) {
  return calls.filter((c) =>
    c.path.includes(`/Systems/${host}`) || c.path.includes(serviceId) || serverIds.some((id) => c.path.includes(`/servers/${id}/action`)));
}

export const isForceOff = (c: RecordedCall) => c.service === 'redfish' && (c.body as { ResetType?: string } | null)?.ResetType === 'ForceOff';
export const isEvacuate = (c: RecordedCall) => c.service === 'nova' && c.method === 'POST' && /\/servers\/[^/]+\/action/.test(c.path)
  && typeof c.body === 'object' && c.body !== null && 'evacuate' in c.body;
export const isServicePut = (c: RecordedCall) => c.service === 'nova' && c.method === 'PUT' && c.path.includes('/os-services/');

/**
 * The hooks every pipeline test file needs: one redis-server for the file (stopped by pid in afterAll) and the
 * test's world closed after each test. Assign the world a test builds to `suite.w`.
 */
export interface PipelineSuite {
  readonly redis: Redis;
  readonly redisUrl: string;
  w: PipelineWorld | undefined;
  /** Builds a world on the file's redis-server and assigns it to `w`, so it is closed after the test. */
  world(opts: Omit<Parameters<typeof pipelineWorld>[0], 'redisUrl'>): Promise<PipelineWorld>;
}

export function pipelineSuite(): PipelineSuite {
  let server: RedisServer | undefined;
  let client: Redis | undefined;
  const suite: PipelineSuite = {
    get redis(): Redis { return client!; },
    get redisUrl(): string { return server!.url; },
    w: undefined,
    async world(opts) {
      const w = await pipelineWorld({ ...opts, redisUrl: server!.url });
      suite.w = w;
      return w;
    },
  };
  beforeAll(async () => {
    server = await startRedis();
    client = newRedis(server.url);
  });
  afterEach(async () => {
    await suite.w?.close();
    suite.w = undefined;
  });
  afterAll(async () => {
    client?.disconnect();
    await server?.stop();
  });
  return suite;
}
