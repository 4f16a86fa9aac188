// The few metric operations the pipeline performs. prom-client's Counter/Gauge/Histogram satisfy these
// shapes, so src/metrics can pass its objects straight in; every member is optional so tests pass nothing.

export interface CounterLike {
  inc(labels?: Record<string, string>, value?: number): void;
}
export interface GaugeLike {
  set(labels: Record<string, string>, value: number): void;
  inc(labels?: Record<string, string>, value?: number): void;
  dec(labels?: Record<string, string>, value?: number): void;
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
