// The metric operations the recovery performs; every member is optional so tests pass nothing.
import type { EvacuationMetrics } from '../evacuator/metrics.js';
import type { CounterLike, GaugeLike, HistogramLike } from '../shared/metric-shapes.js';

export type { CounterLike, GaugeLike, HistogramLike };

export interface RecoveryMetrics extends EvacuationMetrics {
  readonly incidentsOpened?: CounterLike;
  readonly incidentsClosed?: CounterLike;
  readonly incidentsOpen?: GaugeLike;
  /** Servers of open incidents waiting for room (cmpha_instances_awaiting_capacity), counted from the store. */
  readonly instancesAwaitingCapacity?: GaugeLike;
  readonly fenceAttempts?: CounterLike;
  readonly fenceFailures?: CounterLike;
  readonly fenceDuration?: HistogramLike;
  readonly failoverDuration?: HistogramLike;
  readonly queueDepth?: GaugeLike;
  /** Jobs that gave up after their last attempt, by queue (incident, evacuate, network, finalize). */
  readonly jobsFailed?: CounterLike;
  /** The "last failover" gauges (src/metrics createMetrics().lastFailover). */
  readonly lastFailover?: { record(f: { host: string; outcome: 'resolved' | 'partial'; durationSeconds: number; at: number }): void };
  /** Disks of recovered servers found with more than one writer (or one on the wrong host). */
  readonly doubleWriters?: CounterLike;
}
