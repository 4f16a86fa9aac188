import type { Redis } from 'ioredis';
import type { ApiConfig, HostConfig, SegmentConfig } from '../config/types.js';
import type { RoundReport } from '../detector/types.js';
import type { IncidentRecord } from '../incidents/types.js';
import type { Logger } from '../shared/logger.js';
import type { Clock } from '../shared/time.js';

/**
 * The hook a Masakari notification pulls: probe this host now instead of at the next interval. A request,
 * never a verdict: the detector still decides by its own signals and rounds.
 */
export interface ProbeRequests {
  requestProbe(host: string, reason: string): void;
}

/** A person's word that a host is off, for the incident that waits for it after every fence attempt failed. */
export interface FenceConfirmer {
  /** Records the confirmation (who, what they checked) and queues the recovery; refuses when no fence is awaited. */
  confirm(host: string, who: { user: string; note: string }): Promise<IncidentRecord>;
}

export interface ApiDeps {
  readonly config: Pick<ApiConfig, 'listen' | 'tokens' | 'anonymousRead' | 'notificationDuplicateWindowMs'>;
  readonly redis: Redis;
  readonly prefix: string;
  /** The detector's last round (verdicts and evidence), null before the first one. */
  readonly lastRound: () => RoundReport | null;
  readonly hosts: Readonly<Record<string, HostConfig>>;
  /** cmpha.conf's [segment:NAME] sections; none: one implicit segment of every watched host. */
  readonly segments?: readonly SegmentConfig[];
  /** [evacuation] spare_hosts (the implicit segment's reserved hosts). */
  readonly spareHosts?: readonly string[];
  readonly probe: ProbeRequests;
  /**
   * Hands a stored PROCESS or VM notification to whoever acts on it (the leading controller); absent, they are
   * recorded and left `ignored`.
   */
  readonly masakari?: { submit(uuid: string): Promise<void> };
  /** Absent: POST /v1/hosts/{host}/fence-confirm answers 501. */
  readonly fence?: FenceConfirmer;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** [detector] disarm_limit: a disarm older than this is shown overdue. Absent: only one past its until is. */
  readonly disarmLimitMs?: number;
}
