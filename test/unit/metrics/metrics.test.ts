import { Registry, register as globalRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  createMetrics, initFenceDriver, initNotificationChannel, setHostsByVerdict,
} from '../../../src/metrics/metrics.js';

async function series(registry: Registry, name: string) {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  if (!metric) throw new Error(`${name} is not registered`);
  return metric.values as { value: number; labels: Record<string, string | number>; metricName?: string }[];
}

describe('createMetrics', () => {
  it('registers on the given registry only: cmpha_* and prom-client\'s process_*, no nodejs_*', async () => {
    const before = (await globalRegistry.getMetricsAsJSON()).length;
    const registry = new Registry();
    createMetrics(registry);
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names.filter((n) => !n.startsWith('cmpha_') && !n.startsWith('process_'))).toEqual([]);
    expect(names).toEqual(expect.arrayContaining(['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'process_open_fds']));
    expect((await globalRegistry.getMetricsAsJSON()).length).toBe(before);
    const text = await registry.metrics();
    expect(text).toMatch(/^process_resident_memory_bytes [1-9]\d*$/m);
  });

  it('keeps the last failover as gauges, one info series naming the host', async () => {
    const registry = new Registry();
    const m = createMetrics(registry);
    m.lastFailover.record({ host: 'cmp-3', outcome: 'resolved', durationSeconds: 131.5, at: 1_700_000_000 });
    m.lastFailover.record({ host: 'cmp-7', outcome: 'partial', durationSeconds: 240, at: 1_700_000_600 });
    const text = await registry.metrics();
    expect(text).toContain('cmpha_last_failover_duration_seconds 240');
    expect(text).toContain('cmpha_last_failover_timestamp_seconds 1700000600');
    expect(text.match(/^cmpha_last_failover_info\{.*$/gm)).toEqual(['cmpha_last_failover_info{host="cmp-7",outcome="partial"} 1']);
  });

  it('can be created twice in one process on separate registries', () => {
    expect(() => { createMetrics(new Registry()); createMetrics(new Registry()); }).not.toThrow();
  });

  it('follows Prometheus naming: counters end in _total, durations in _seconds', async () => {
    const registry = new Registry();
    createMetrics(registry);
    for (const m of await registry.getMetricsAsJSON()) {
      if (String(m.type) === 'counter') expect(m.name, m.name).toMatch(/_total$/);
      if (String(m.type) === 'histogram') expect(m.name, m.name).toMatch(/_seconds$/);
    }
  });

  it('uses no label that could hold a host name, server id or incident id', async () => {
    const registry = new Registry();
    createMetrics(registry);
    const allowed = new Set(['verdict', 'zone', 'outcome', 'driver', 'code', 'result', 'channel', 'state', 'queue', 'check', 'version', 'le']);
    const text = await registry.metrics();
    const labelNames = [...text.matchAll(/[{,]([a-z_]+)="/g)].map((m) => m[1]!);
    for (const n of labelNames) expect(allowed, `label ${n}`).toContain(n);
    const m = createMetrics(new Registry());
    for (const g of [m.hostsByVerdict, m.incidentsClosed, m.fenceFailures, m.notifications, m.evacuations, m.queueDepth]) {
      const names = (g as unknown as { labelNames: string[] }).labelNames;
      for (const n of names) expect(n).not.toMatch(/host|server|instance|incident|uuid|id$/);
    }
  });

  it('starts known outcome, result and queue-state series at zero so increase() sees the first event', async () => {
    const registry = new Registry();
    createMetrics(registry);
    const closed = await series(registry, 'cmpha_incidents_closed_total');
    expect(closed.map((s) => s.labels.outcome).sort()).toEqual(['aborted', 'failed', 'partial', 'resolved']);
    expect(closed.every((s) => s.value === 0)).toBe(true);
    const evac = await series(registry, 'cmpha_evacuations_total');
    expect(evac.map((s) => s.labels.result).sort()).toEqual(['degraded', 'failed', 'ok', 'skipped']);
    const queue = await series(registry, 'cmpha_queue_jobs');
    expect(queue.map((s) => s.labels.state).sort()).toEqual(['active', 'delayed', 'failed', 'waiting']);
    const heal = await series(registry, 'cmpha_agent_remediations_total');
    expect(heal.map((s) => s.labels.result).sort()).toEqual(['failed', 'healed']);
    expect((await series(registry, 'cmpha_leader'))[0]!.value).toBe(0);
  });

  it('reports the version in cmpha_build_info', async () => {
    const registry = new Registry();
    createMetrics(registry, { version: '1.2.3' });
    expect(await registry.metrics()).toContain('cmpha_build_info{version="1.2.3"} 1');
  });

  it('counts incidents by outcome and fence failures by driver and code', async () => {
    const registry = new Registry();
    const m = createMetrics(registry);
    m.incidentsOpened.inc();
    m.incidentsClosed.inc({ outcome: 'partial' });
    initFenceDriver(m, 'ipmitool');
    m.fenceAttempts.inc({ driver: 'ipmitool' });
    m.fenceFailures.inc({ driver: 'ipmitool', code: 'power_state_unknown' });
    const text = await registry.metrics();
    expect(text).toContain('cmpha_incidents_opened_total 1');
    expect(text).toContain('cmpha_incidents_closed_total{outcome="partial"} 1');
    expect(text).toContain('cmpha_incidents_closed_total{outcome="resolved"} 0');
    expect(text).toContain('cmpha_fence_attempts_total{driver="ipmitool"} 1');
    expect(text).toContain('cmpha_fence_failures_total{driver="ipmitool",code="power_state_unknown"} 1');
  });

  it('initialises both result series of a notification channel', async () => {
    const registry = new Registry();
    const m = createMetrics(registry);
    initNotificationChannel(m, 'email');
    const text = await registry.metrics();
    expect(text).toContain('cmpha_notifications_total{channel="email",result="sent"} 0');
    expect(text).toContain('cmpha_notifications_total{channel="email",result="failed"} 0');
  });

  it('failover buckets reach 30 minutes so long recoveries are still measured', async () => {
    const registry = new Registry();
    const m = createMetrics(registry);
    m.failoverDuration.observe(1500);
    const text = await registry.metrics();
    expect(text).toContain('cmpha_failover_duration_seconds_bucket{le="1800"} 1');
    expect(text).toContain('cmpha_failover_duration_seconds_bucket{le="1200"} 0');
  });

  it('replaces the host verdict table so vanished verdicts leave no stale series', async () => {
    const registry = new Registry();
    const m = createMetrics(registry);
    setHostsByVerdict(m, [{ verdict: 'alive', zone: 'az1', count: 9 }, { verdict: 'dead', zone: 'az1', count: 1 }]);
    setHostsByVerdict(m, [{ verdict: 'alive', zone: 'az1', count: 10 }]);
    const rows = await series(registry, 'cmpha_hosts');
    expect(rows).toEqual([{ value: 10, labels: { verdict: 'alive', zone: 'az1' } }]);
  });
});
