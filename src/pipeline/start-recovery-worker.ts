import { Redis } from 'ioredis';
import type { Config } from '../config/types.js';
import { createFenceDriver } from '../fencing/create-driver.js';
import type { FenceDriver } from '../fencing/types.js';
import { createNotificationService } from '../notifier/service.js';
import type { NotificationService } from '../notifier/types.js';
import { createOpenStack } from '../openstack/index.js';
import type { NovaApi } from '../openstack/types.js';
import type { Logger } from '../shared/logger.js';
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
  const connection = opts.connection ?? new Redis(opts.redisUrl ?? config.redis.url, {
    maxRetriesPerRequest: null,
    ...(config.redis.password ? { password: config.redis.password.reveal() } : {}),
  });
  // A given Nova comes with its own Placement or none: never mix a caller's Nova with a client of our own.
  const own = opts.nova ? null : createOpenStack(config.cloud, { logger: opts.logger });
  const nova = opts.nova ?? own!.nova;
  const placement = opts.placement ?? own?.placement;
  const notifier = opts.notifier ?? createNotificationService({
    notifiers: config.notifiers, escalation: config.escalation, redis: connection, keyPrefix: config.redis.prefix, logger: opts.logger,
  });
  const recovery = createRecovery({
    ...opts,
    config, connection, nova, ...(placement ? { placement } : {}), notifier, logger: opts.logger,
    fenceDriverFor: opts.fenceDriverFor ?? fenceDriversFromConfig(config, opts.logger),
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
