import type { Redis } from 'ioredis';
import { NotificationStore } from '../api/masakari-notifications.js';
import type { ComputeBackend } from '../compute/types.js';
import type { Config } from '../config/types.js';
import type { IncidentStore } from '../incidents/incident-store.js';
import { startIntake } from '../masakari/intake.js';
import { handleProcessFailure, type ProcessFailureDeps } from '../masakari/process-failure.js';
import { recoverInstance } from '../masakari/recover-instance.js';
import { sparesFor, type SpareSource } from '../masakari/segment-policy.js';
import { SegmentStore } from '../masakari/segments.js';
import { VmFailureStore } from '../masakari/vm-failure-store.js';
import type { NotificationService } from '../notifier/types.js';
import type { Logger } from '../shared/logger.js';
import { sleep as realSleep, systemClock, type Clock } from '../shared/time.js';

export interface MasakariPartsDeps {
  readonly config: Pick<Config, 'instanceFailure' | 'redis'>;
  readonly redis: Redis;
  /** The cloud as the recovery sees it: its changes pass only while this process leads. */
  readonly compute: ComputeBackend;
  readonly incidents: Pick<IncidentStore, 'openIncidentFor' | 'addTimeline'>;
  readonly notifier: NotificationService;
  readonly healer: ProcessFailureDeps['healer'];
  readonly probe: (host: string, reason: string) => void;
  readonly mgmtIp: (host: string) => string | null;
  readonly isLeader: () => boolean;
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly pollMs?: number;
}

/** The default [instance_failure] for a config built by hand: act, as a loaded cmpha.conf does. */
const DEFAULT_INSTANCE_FAILURE: NonNullable<Config['instanceFailure']> = {
  enabled: true, haMetadata: { key: 'HA_Enabled', value: 'True' }, allServers: false, maxRestarts: 3, restartWindowMs: 3_600_000, startTimeoutMs: 120_000, pollIntervalMs: 2000,
};

/**
 * PROCESS and VM notifications from the API's queue, acted on by the leader: a PROCESS one through the agent-down
 * remediation, a VM one through the instance-failure recovery. Each outcome is written on the notification.
 */
export function startMasakariIntake(deps: MasakariPartsDeps): { stop(): Promise<void> } {
  const prefix = deps.config.redis.prefix;
  const notifications = new NotificationStore(deps.redis, prefix);
  const vmStore = new VmFailureStore(deps.redis, prefix);
  const clock = deps.clock ?? systemClock;
  const stopping = new AbortController();
  const record = (uuid: string, o: { status: 'finished' | 'error' | 'ignored' | 'running'; message: string; recordId?: string }) => notifications.setOutcome(uuid, o);
  const intake = startIntake({
    redis: deps.redis, prefix, isLeader: deps.isLeader, record, logger: deps.logger, ...(deps.pollMs !== undefined ? { pollMs: deps.pollMs } : {}),
    async handle(uuid) {
      const n = await notifications.get(uuid);
      if (!n) return null;
      await record(uuid, { status: 'running', message: 'cmpha is acting on it' });
      if (n.type === 'PROCESS') {
        return handleProcessFailure({
          healer: deps.healer, notifier: deps.notifier, probe: deps.probe, mgmtIp: deps.mgmtIp, clock,
          onOutcome: (o) => { void record(uuid, o).catch(() => undefined); },
        }, { uuid, hostname: n.hostname, payload: { event: n.payload.event ?? '', process_name: n.payload.process_name ?? '' } });
      }
      if (n.type === 'VM') {
        return recoverInstance({
          compute: deps.compute, store: vmStore, notifier: deps.notifier, config: deps.config.instanceFailure ?? DEFAULT_INSTANCE_FAILURE, clock,
          sleep: deps.sleep ?? realSleep, logger: deps.logger.child({ component: 'instance-failure' }), signal: stopping.signal,
          hostIncident: (host) => deps.incidents.openIncidentFor(host),
          noteOnIncident: (id, message) => deps.incidents.addTimeline(id, { step: 'masakari', level: 'info', message }),
        }, { uuid, hostname: n.hostname, payload: { event: n.payload.event ?? '', instance_uuid: n.payload.instance_uuid ?? '', vir_domain_event: n.payload.vir_domain_event ?? '' } });
      }
      return null;
    },
  });
  return {
    async stop() {
      stopping.abort();
      await intake.stop();
    },
  };
}

/** Where the recovery of a host takes its spares from: its failover segment as Redis holds it now (docs/masakari.md). */
export function segmentSpares(config: Pick<Config, 'segments' | 'evacuation' | 'redis'>, redis: Redis, logger: Logger): (host: string) => Promise<SpareSource> {
  const store = new SegmentStore(redis, config.redis.prefix, config.segments ?? [], { logger });
  return async (host) => sparesFor(await store.facts(), host, config.evacuation.spareHosts);
}
