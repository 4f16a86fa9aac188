// Metric shapes the evacuator and pipeline use. prom-client's Counter/Gauge/Histogram satisfy them, so
// src/metrics passes its objects straight in; tests pass nothing.
// Overloads, as prom-client declares them: `inc(undefined, 5)` would add 1 there, so it is not allowed here.

export interface CounterLike {
  inc(): void;
  inc(labels: Record<string, string>, value?: number): void;
}
export interface GaugeLike {
  set(labels: Record<string, string>, value: number): void;
  inc(): void;
  inc(labels: Record<string, string>, value?: number): void;
  dec(): void;
  dec(labels: Record<string, string>, value?: number): void;
}
export interface HistogramLike {
  observe(labels: Record<string, string>, value: number): void;
}

/** What the evacuator counts. */
export interface EvacuationMetrics {
  readonly evacuations?: CounterLike;
  readonly evacuationDuration?: HistogramLike;
}
