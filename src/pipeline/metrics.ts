// The few metric operations the pipeline performs. prom-client's Counter/Gauge/Histogram satisfy these
// shapes, so src/metrics can pass its objects straight in; every member is optional so tests pass nothing.

import type { CounterLike, GaugeLike, HistogramLike } from '../evacuator/metrics.js';

export type { CounterLike, GaugeLike, HistogramLike };

export interface RecoveryMetrics {
  readonly incidentsOpened?: CounterLike;
  readonly incidentsClosed?: CounterLike;
  readonly incidentsOpen?: GaugeLike;
  readonly fenceAttempts?: CounterLike;
  readonly fenceFailures?: CounterLike;
  readonly fenceDuration?: HistogramLike;
  readonly evacuations?: CounterLike;
  readonly evacuationDuration?: HistogramLike;
  readonly failoverDuration?: HistogramLike;
  readonly queueDepth?: GaugeLike;
  /** Jobs that gave up after their last attempt, by queue (incident, evacuate, finalize). */
  readonly jobsFailed?: CounterLike;
  /** The "last failover" gauges (src/metrics createMetrics().lastFailover). */
  readonly lastFailover?: { record(f: { host: string; outcome: 'resolved' | 'partial'; durationSeconds: number; at: number }): void };
}
