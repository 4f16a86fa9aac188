import type { Redis } from 'ioredis';
import type { Config } from '../config/types.js';
import type { FenceLevelsFn, FencePlan } from '../fencing/fence-levels.js';
import type { FenceDriver } from '../fencing/types.js';
import type { SingleWriterDeps } from '../fencing/ceph/single-writer.js';
import type { Leadership } from '../leadership/leadership.js';
import type { IncidentStore } from '../incidents/incident-store.js';
import type { RecoveryOpener } from '../incidents/opener.js';
import type { NotificationService } from '../notifier/types.js';
import type { ComputeBackend } from '../compute/types.js';
import type { VolumeApi } from '../openstack/types.js';
import type { Logger } from '../shared/logger.js';
import type { RedisOutageLog } from '../shared/redis-outage.js';
import type { Clock } from '../shared/time.js';
import type { RecoveryMetrics } from './metrics.js';
import type { AddressProbe, FenceHostFn, HostAliveCheck, StepContext } from './steps/context.js';

export interface QueueTuning {
  /** How long a worker's claim on a job lasts without renewal; BullMQ renews it at half that. */
  readonly lockDurationMs?: number;
  /** How often BullMQ looks for jobs whose lock expired (a worker that died without a restart of its own). */
  readonly stalledIntervalMs?: number;
  /** Tries per job (retryable errors only). */
  readonly attempts?: number;
  /** First retry delay; doubles each try. */
  readonly backoffMs?: number;
  /** Incidents prepared in parallel by one worker process. */
  readonly incidentConcurrency?: number;
  /** See StepContext.unknownSettleMs. */
  readonly unknownSettleMs?: number;
  /** The rate limit's window (a minute unless a test shortens it). */
  readonly rateWindowMs?: number;
}

export interface RecoveryDeps {
  readonly config: Config;
  /** An ioredis connection made with `maxRetriesPerRequest: null`; or give `redisUrl`. */
  readonly connection?: Redis;
  readonly redisUrl?: string;
  /** The cloud as the recovery sees it (its changes pass only while this process leads); its ports, when it has them, verify the network after each evacuation ([evacuation] verify_network) ... */
  readonly compute: ComputeBackend;
  /** Each server's attached volumes (their RBD names from Cinder): for the storage fence and the single-writer proof. */
  readonly volumes?: VolumeApi;
  /** ... and the addresses that answered before the failure, probed again. */
  readonly probe?: AddressProbe;
  readonly fenceDriverFor: (host: string) => FenceDriver | null;
  readonly notifier: NotificationService;
  readonly isHostAlive: HostAliveCheck;
  /** See StepContext.sparesFor. */
  readonly sparesFor?: StepContext['sparesFor'];
  readonly metrics?: RecoveryMetrics;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** src/fencing's fenceHost unless a test or a levels-based fencer replaces it. */
  readonly fenceHost?: FenceHostFn;
  /** Checked before every mutation; absent = this process always leads. */
  readonly leadership?: Leadership;
  readonly queue?: QueueTuning;
  /** Where Redis connection errors of the queues and workers go (one line per outage, not one per error). */
  readonly outage?: RedisOutageLog;
  /** The host's fence levels; see StepContext.fencePlanFor. */
  readonly fencePlanFor?: (host: string) => FencePlan | null | undefined;
  /** See StepContext.refreshFencing. */
  readonly refreshFencing?: (host: string) => Promise<boolean>;
  readonly fenceLevels?: FenceLevelsFn;
  /** Where disks are on Ceph: the single-writer proof run before an incident closes. */
  readonly singleWriter?: SingleWriterDeps;
  /**
   * Re-adds a host's storage blocklist entries (resetting their expiry) while its incident is open; called
   * every `storageRenewEveryMs` for each open incident that is past its fence.
   */
  readonly renewStorageFence?: (host: string) => Promise<void>;
  readonly storageRenewEveryMs?: number;
}

export interface Recovery {
  readonly incidents: IncidentStore;
  /** Opens an incident and queues its recovery: what the detector and the CLI use. */
  readonly opener: RecoveryOpener;
  /** Starts (or, after pauseWorkers, resumes) the workers, hands back jobs of workers that died and re-queues every incident left open. */
  startWorkers(): Promise<void>;
  /** Stops taking jobs (a standby's workers take none); jobs already running stop at their next leadership check. */
  pauseWorkers(): Promise<void>;
  /** Queues the recovery of an incident (idempotent: one job per incident id). */
  submit(incidentId: string): Promise<void>;
  stop(): Promise<void>;
}
