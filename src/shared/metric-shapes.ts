// The few metric operations cmpha's components perform. prom-client's Counter/Gauge/Histogram satisfy these
// shapes, so src/metrics passes its objects straight in; tests pass nothing or a recorder.
// Overloads, as prom-client declares them: `inc(undefined, 5)` would add 1 there, so it is not allowed here.

export interface CounterLike {
  inc(): void;
  inc(labels: Record<string, string>, value?: number): void;
}
export interface GaugeLike {
  set(value: number): void;
  set(labels: Record<string, string>, value: number): void;
  inc(): void;
  inc(labels: Record<string, string>, value?: number): void;
  dec(): void;
  dec(labels: Record<string, string>, value?: number): void;
}
export interface HistogramLike {
  observe(value: number): void;
  observe(labels: Record<string, string>, value: number): void;
}
