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
  /** Disks of recovered servers found with more than one writer (or one on the wrong host). */
  readonly doubleWriters?: CounterLike;
}
