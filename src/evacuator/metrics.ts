import type { CounterLike, HistogramLike } from '../shared/metric-shapes.js';

/** What the evacuator counts. */
export interface EvacuationMetrics {
  readonly evacuations?: CounterLike;
  readonly evacuationDuration?: HistogramLike;
  readonly instanceDowntime?: HistogramLike;
}
