import type { Redis } from 'ioredis';
import type { ApiConfig, HostConfig } from '../config/types.js';
import type { RoundReport } from '../detector/types.js';
import type { Logger } from '../shared/logger.js';
import type { Clock } from '../shared/time.js';

/**
 * The hook a Masakari notification pulls: probe this host now instead of at the next interval. A request,
 * never a verdict: the detector still decides by its own signals and rounds.
 */
export interface ProbeRequests {
  requestProbe(host: string, reason: string): void;
}

export interface ApiDeps {
  readonly config: Pick<ApiConfig, 'listen' | 'tokens' | 'anonymousRead' | 'notificationDuplicateWindowMs'>;
  readonly redis: Redis;
  readonly prefix: string;
  /** The detector's last round (verdicts and evidence), null before the first one. */
  readonly lastRound: () => RoundReport | null;
  readonly hosts: Readonly<Record<string, HostConfig>>;
  readonly probe: ProbeRequests;
  readonly logger: Logger;
  readonly clock?: Clock;
}
