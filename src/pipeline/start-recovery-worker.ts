import type { Redis } from 'ioredis';
import type { Config } from '../config/types.js';
import { createFenceDriver } from '../fencing/create-driver.js';
import { createFencePlan, createStorageFence } from '../fencing/fence-plan.js';
import type { FencePlan } from '../fencing/fence-levels.js';
import type { FenceHostFn } from './steps/fence.js';
import type { FenceDriver } from '../fencing/types.js';
import { createNotificationService } from '../notifier/service.js';
import type { NotificationService } from '../notifier/types.js';
import { createOpenStack } from '../openstack/index.js';
import type { NovaApi, VolumeApi } from '../openstack/types.js';
import type { Logger } from '../shared/logger.js';
import { createRedis } from '../shared/redis-connect.js';
import { RedisOutageLog } from '../shared/redis-outage.js';
import { systemClock } from '../shared/time.js';
import { createRecovery } from './create-recovery.js';
import type { Recovery, RecoveryDeps } from './recovery-deps.js';
import { novaLivenessCheck } from './liveness.js';

/**
 * Fence drivers built once per host from config; a host without a `[host:NAME]` section has none.
 * `onCreated` sees each driver once (the controller initialises its metrics there).
 */
export function fenceDriversFromConfig(config: Config, logger: Logger, onCreated?: (driver: FenceDriver) => void): (host: string) => FenceDriver | null {
  const cache = new Map<string, FenceDriver | null>();
  return (host) => {
    if (!cache.has(host)) {
      const hc = config.hosts[host];
      const driver = hc ? createFenceDriver(hc, config.fencing, { logger }) : null;
      if (driver) onCreated?.(driver);
      cache.set(host, driver);
    }
    return cache.get(host)!;
  };
}

/**
 * Each host's fence levels from config, over the given drivers (so one BMC driver per host serves both) and
 * one storage fence for the configured Ceph.
 */
export function fencePlansFromConfig(
  config: Config, nova: NovaApi, driverFor: (host: string) => FenceDriver | null, fenceHost?: FenceHostFn, volumes?: VolumeApi,
): (host: string) => FencePlan | null | undefined {
  const storageFence = config.ceph ? createStorageFence(config.ceph, config.fencing) : undefined;
  const cache = new Map<string, FencePlan | null>();
  return (host) => {
    const hc = config.hosts[host];
    // A host without a section keeps the one-driver path (whatever driverFor gives it).
    if (!hc) return undefined;
    if (!cache.has(host)) {
      cache.set(host, createFencePlan(hc, config.fencing, {
        driver: driverFor(host), nova, ...(storageFence ? { storageFence } : {}), ...(fenceHost ? { fenceHost } : {}), ...(volumes ? { volumes } : {}),
      }));
    }
    return cache.get(host)!;
  };
}

/** The single-writer proof where [ceph] is configured: every recovered server's disks, one watcher each. */
export function singleWriterFromConfig(config: Config, volumes?: VolumeApi): RecoveryDeps['singleWriter'] {
  if (!config.ceph) return undefined;
  return {
    fence: createStorageFence(config.ceph, config.fencing),
    storageIpsOf: (host) => config.hosts[host]?.storageIps ?? [],
    timeoutMs: config.ceph.writerProofTimeoutMs, pollIntervalMs: 1000,
    ...(volumes ? { volumes } : {}),
  };
}

/** Keeps a fenced host's blocklist entries from expiring while its incident is open: re-added at a third of their life. */
export function storageRenewalFromConfig(config: Config): Pick<RecoveryDeps, 'renewStorageFence' | 'storageRenewEveryMs'> {
  if (!config.ceph) return {};
  const fence = createStorageFence(config.ceph, config.fencing);
  const expireS = config.ceph.blocklistExpireS;
  return {
    storageRenewEveryMs: Math.max(10_000, (expireS * 1000) / 3),
    renewStorageFence: async (host) => {
      const ips = config.hosts[host]?.storageIps ?? [];
      if (ips.length > 0) await fence.renew(ips);
    },
  };
}

export interface RecoveryWorker extends Recovery {
  readonly nova: NovaApi;
  readonly notifier: NotificationService;
  readonly connection: Redis;
}

/**
 * A complete recovery worker from config alone: its own Redis connection, OpenStack client, fence drivers
 * and notifier. `cmpha run` composes the same pieces with the detector; this runs the pipeline by itself
 * (a second replica, crash tests, `cmpha evacuate`).
 */
export async function startRecoveryWorker(
  config: Config,
  opts: { logger: Logger; start?: boolean } & Partial<Omit<RecoveryDeps, 'config' | 'logger'>>,
): Promise<RecoveryWorker> {
  const outage = opts.outage ?? new RedisOutageLog(opts.logger);
  const connection = opts.connection ?? createRedis({ ...config.redis, url: opts.redisUrl ?? config.redis.url }, { mode: 'queue', outage });
  // A given Nova comes with its own Placement or none: never mix a caller's Nova with a client of our own.
  const own = opts.nova ? null : createOpenStack(config.cloud, { logger: opts.logger });
  const nova = opts.nova ?? own!.nova;
  const placement = opts.placement ?? own?.placement;
  const neutron = opts.neutron ?? own?.neutron;
  const volumes = opts.volumes ?? own?.volumes;
  const notifier = opts.notifier ?? createNotificationService({
    notifiers: config.notifiers, escalation: config.escalation, redis: connection, keyPrefix: config.redis.prefix, logger: opts.logger,
  });
  const fenceDriverFor = opts.fenceDriverFor ?? fenceDriversFromConfig(config, opts.logger);
  const singleWriter = opts.singleWriter ?? singleWriterFromConfig(config, volumes);
  const recovery = createRecovery({
    ...opts,
    config, connection, outage, nova, ...(placement ? { placement } : {}), ...(neutron ? { neutron } : {}), ...(volumes ? { volumes } : {}), notifier, logger: opts.logger,
    fenceDriverFor,
    fencePlanFor: opts.fencePlanFor ?? fencePlansFromConfig(config, nova, fenceDriverFor, opts.fenceHost, volumes),
    ...(singleWriter ? { singleWriter } : {}),
    ...storageRenewalFromConfig(config),
    isHostAlive: opts.isHostAlive ?? novaLivenessCheck(nova, config.detector.heartbeatTimeoutMs, opts.clock ?? systemClock),
  });
  if (opts.start !== false) await recovery.startWorkers();
  return {
    ...recovery,
    nova, notifier, connection,
    async stop() {
      await recovery.stop();
      const n = notifier as NotificationService & { stop?: () => Promise<void> };
      if (!opts.notifier && n.stop) await n.stop();
      if (!opts.connection) connection.disconnect();
    },
  };
}
