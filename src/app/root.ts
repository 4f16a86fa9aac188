import type { Redis } from 'ioredis';
import type { Config } from '../config/types.js';
import { createHostLivenessCheck } from '../detector/liveness.js';
import { createProber } from '../detector/prober.js';
import { detectorKeys } from '../detector/keys.js';
import type { CrashKernelLook, Detector, Prober } from '../detector/types.js';
import type { FenceDriver } from '../fencing/types.js';
import { leaderOnlyFenceDriver } from '../leadership/leader-only.js';
import { LeaderLease } from '../leadership/lease.js';
import { createNotificationService, type CmphaNotificationService } from '../notifier/service.js';
import type { DeliveryRecord, NotificationService } from '../notifier/types.js';
import { createOpenStack, type OpenStack } from '../openstack/index.js';
import { leaderBackend, readBackend } from './cloud-adapter.js';
import type { ComputeBackend } from '../compute/types.js';
import { createRecovery, type QueueTuning, type Recovery } from '../pipeline/create-recovery.js';
import type { RecoveryMetrics } from '../pipeline/metrics.js';
import type { HostAliveCheck } from '../pipeline/steps/context.js';
import type { Logger } from '../shared/logger.js';
import { createRedis } from '../shared/redis-connect.js';
import { RedisOutageLog } from '../shared/redis-outage.js';
import { crashKernelLook, fenceDriversFromConfig, fencePlansFromConfig, kdumpFromConfig, singleWriterFromConfig, storageRenewalFromConfig, type ConfigNow } from './fence-parts.js';
import { LiveFencing } from './live-fencing.js';
import { segmentSpares } from './masakari-parts.js';

// The composition root: every process that can change the cloud (`cmpha run` with its API, `cmpha evacuate`,
// `cmpha fence confirm`, the demo) builds its Redis connection, leader lease, OpenStack clients, leader-only
// guards, fence parts, liveness check and recovery here, the same way. Nothing here decides anything.

/** The parts every other part is built on: Redis, the leader lease on it, and the OpenStack clients. */
export interface Foundation {
  readonly outage: RedisOutageLog;
  readonly connection: Redis;
  readonly lease: LeaderLease;
  readonly cloud: OpenStack;
  /** The compute backend over the cloud's clients, for reads (the detector, the orphan check, remediation, the last look). */
  readonly compute: ComputeBackend;
}

export interface FoundationOptions {
  readonly logger: Logger;
  /** Leader lease owner id (default host/pid/random: a restart on the same host is told from a live process by its pid). */
  readonly owner?: string;
  /** Replaces the clients built from [cloud] (tests wrap them to record calls). */
  readonly openstack?: (config: Config, logger: Logger) => OpenStack;
}

export function connect(config: Config, opts: FoundationOptions): Foundation {
  const { logger } = opts;
  const outage = new RedisOutageLog(logger.child({ component: 'redis' }));
  const connection = createRedis(config.redis, { mode: 'queue', outage });
  const lease = new LeaderLease(connection, detectorKeys(config.redis.prefix).leader, config.detector.leaderLeaseMs, {
    ...(opts.owner ? { owner: opts.owner } : {}), logger: logger.child({ component: 'leader' }),
  });
  const cloud = opts.openstack ? opts.openstack(config, logger) : createOpenStack(config.cloud, { logger });
  return { outage, connection, lease, cloud, compute: readBackend(config, { logger, openstack: cloud }) };
}

/** The notifier with its delivery queue in Redis; `onDelivery` sees every delivery (the controller counts them). */
export function createNotifier(config: Config, foundation: Foundation, logger: Logger, onDelivery?: (records: readonly DeliveryRecord[]) => void): CmphaNotificationService {
  return createNotificationService({
    notifiers: config.notifiers, escalation: config.escalation, identity: foundation.cloud.identity, redis: foundation.connection,
    keyPrefix: config.redis.prefix, logger, cloudWords: foundation.compute.names, ...(onDelivery ? { onDelivery } : {}),
  });
}

/** The detector of this process once built, if it runs one: the last look before fencing asks it what it saw. */
export interface DetectorView {
  current: Detector | null;
}

/**
 * The last look before fencing, the one every process uses: direct probes of every address of the host, and
 * whether Nova's updated_at moved since the detector's verdict (when this process runs a detector). No clock
 * comparison, so a fast verdict is not undone by a 10 s old heartbeat, and a host whose nova-compute died while
 * the host answers is never fenced, whichever process runs the job.
 */
export function hostLiveness(config: Config, compute: ComputeBackend, prober: Prober, logger: Logger, detector?: DetectorView, crashKernel?: CrashKernelLook): HostAliveCheck {
  return createHostLivenessCheck({
    config, compute, prober, logger,
    heartbeatSeen: (h) => detector?.current?.heartbeatSeen(h) ?? null,
    extraAddresses: (h) => detector?.current?.liveAddresses(h) ?? [],
    ...(crashKernel ? { crashKernel } : {}),
  });
}

/** Power changes only while this process leads with its epoch (status reads pass). */
export function leaderFenceDrivers(config: ConfigNow, logger: Logger, lease: LeaderLease, onCreated?: (driver: FenceDriver) => void): (host: string) => FenceDriver | null {
  const configured = fenceDriversFromConfig(config, logger, onCreated);
  return (host) => {
    const driver = configured(host);
    return driver ? leaderOnlyFenceDriver(driver, lease) : null;
  };
}

export interface RecoveryRootOptions extends FoundationOptions {
  /** The process's foundation when it has one (the controller); else one is made and closed with the recovery. */
  readonly foundation?: Foundation;
  /** The process's notifier when it has one; else one is made and stopped with the recovery. */
  readonly notifier?: NotificationService;
  readonly queue?: QueueTuning;
  readonly metrics?: RecoveryMetrics;
  /** Replaces the probers built from [detector] (tests); the controller passes its detector's. */
  readonly prober?: Prober;
  readonly detector?: DetectorView;
  /** Sees each fence driver once, when it is first built (the controller initialises its metrics). */
  readonly onFenceDriver?: (driver: FenceDriver) => void;
  /** Reads the config file again (`cmpha run`): a fence then uses the hosts' fence settings as the file says now. */
  readonly rereadConfig?: () => Promise<Config>;
  /** Sees each datagram the fence_kdump listener judged (the controller counts them). */
  readonly onKdumpDatagram?: (result: 'valid' | 'invalid' | 'unknown_sender') => void;
}

/** A recovery built by the root: its workers start only when the caller says so (when it leads). */
export interface RecoveryWorker extends Recovery {
  /** The cloud as the workers see it, through the port (its changes pass only while this process leads). */
  readonly compute: ComputeBackend;
  readonly notifier: NotificationService;
  readonly connection: Redis;
  readonly lease: LeaderLease;
  /** The hosts' fence settings in force, read again before each fence when the process can re-read its config. */
  readonly fencing: LiveFencing;
  /** Each host's power switch, its changes passing only while this process leads. */
  readonly fenceDriverFor: (host: string) => FenceDriver | null;
  /** fence_kdump messages heard lately, where [kdump] is enabled (the detector reads a crash kernel's answers with it). */
  readonly crashKernel?: CrashKernelLook;
}

/**
 * The recovery pipeline as every process builds it: Nova and the BMCs behind the leader lease (every change
 * re-checks, in Redis, that this process still leads with its epoch), the fence levels and storage parts from
 * config, and the probe-based liveness check. Its workers are not started.
 */
export function composeRecovery(config: Config, opts: RecoveryRootOptions): RecoveryWorker {
  const { logger } = opts;
  const foundation = opts.foundation ?? connect(config, opts);
  const { connection, outage, lease, cloud } = foundation;
  const ownNotifier = opts.notifier ? null : createNotifier(config, foundation, logger);
  const notifier = opts.notifier ?? ownNotifier!;
  // The recovery's view of the cloud ([cloud] type picks the adapter), its changes behind the lease.
  const compute = leaderBackend(config, cloud, lease);
  const fencing = new LiveFencing(config, opts.rereadConfig, logger);
  const fenceDriverFor = leaderFenceDrivers(() => fencing.current(), logger, lease, opts.onFenceDriver);
  const prober = opts.prober ?? createProber(config.detector, { logger });
  // One packet per poll: verification asks again every verify_poll_interval, and a probe holds its evacuation slot.
  const verifyProber = opts.prober ?? createProber({ ...config.detector, probeCount: 1 }, { logger });
  const singleWriter = singleWriterFromConfig(config, cloud.volumes);
  // Bound now, for the life of the process: a crash kernel sends long before a fence asks.
  const kdump = kdumpFromConfig(() => fencing.current(), logger, opts.onKdumpDatagram);
  void kdump?.listener.start();
  const crashKernel = kdump ? crashKernelLook(kdump.env) : undefined;
  const recovery = createRecovery({
    config, connection, outage, logger, notifier, compute, leadership: lease,
    volumes: cloud.volumes,
    fenceDriverFor, fencePlanFor: fencePlansFromConfig(() => fencing.current(), compute, fenceDriverFor, undefined, cloud.volumes, kdump?.env),
    refreshFencing: async (host) => (await fencing.refresh()).includes(host),
    ...(singleWriter ? { singleWriter } : {}),
    ...storageRenewalFromConfig(config),
    probe: (ips, signal) => verifyProber.probe(ips, signal),
    isHostAlive: hostLiveness(config, foundation.compute, prober, logger, opts.detector, crashKernel),
    sparesFor: segmentSpares(config, connection, logger),
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
    ...(opts.queue ? { queue: opts.queue } : {}),
  });
  return {
    ...recovery,
    compute, notifier, connection, lease, fencing, fenceDriverFor,
    ...(crashKernel ? { crashKernel } : {}),
    async stop() {
      await recovery.stop();
      await kdump?.listener.stop();
      await ownNotifier?.stop();
      if (opts.foundation) return;
      // Its own foundation: nothing else uses the lease, given up at once so a standby need not wait for it to lapse.
      await lease.release().catch(() => undefined);
      connection.disconnect();
    },
  };
}
