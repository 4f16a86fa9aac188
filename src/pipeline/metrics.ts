// The few metric operations the pipeline performs. prom-client's Counter/Gauge/Histogram satisfy these
// shapes, so src/metrics can pass its objects straight in; every member is optional so tests pass nothing.

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
}
