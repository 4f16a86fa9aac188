import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../../../src/metrics/metrics.js';
import { startMetricsServer, type MetricsServer, type ReadinessReport } from '../../../src/metrics/http-server.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { freePort } from '../../helpers/ports.js';

const readyReport: ReadinessReport = {
  ready: true,
  checks: {
    redis: { ok: true, detail: 'PONG' },
    nova: { ok: true, detail: '12 compute services' },
    detector: { ok: true, lastRoundAgeSeconds: 3 },
    role: 'leader',
  },
};

const servers: MetricsServer[] = [];
afterEach(async () => { await Promise.all(servers.splice(0).map((s) => s.close())); });

async function start(readiness: () => Promise<ReadinessReport> = async () => readyReport, readinessTimeoutMs?: number) {
  const registry = new Registry();
  const metrics = createMetrics(registry, { version: '9.9.9' });
  const srv = await startMetricsServer({ listen: { host: '127.0.0.1', port: 0 }, registry, readiness, logger: silentLogger, readinessTimeoutMs });
  servers.push(srv);
  return { srv, metrics, url: (p: string) => `http://127.0.0.1:${srv.port}${p}` };
}

describe('startMetricsServer', () => {
  it('serves the registry in Prometheus text format on /metrics', async () => {
    const { url, metrics } = await start();
    metrics.incidentsOpened.inc(2);
    const res = await fetch(url('/metrics'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const body = await res.text();
    expect(body).toContain('# TYPE cmpha_incidents_opened_total counter');
    expect(body).toContain('cmpha_incidents_opened_total 2');
    expect(body).toContain('cmpha_build_info{version="9.9.9"} 1');
  });

  it('answers /healthz with 200 ok', async () => {
    const { url } = await start();
    const res = await fetch(url('/healthz'));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok\n');
  });

  it('answers /readyz with 200 and the report when ready', async () => {
    const { url } = await start();
    const res = await fetch(url('/readyz'));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(readyReport);
  });

  it('answers /readyz with 503 and says which check failed when not ready', async () => {
    const notReady: ReadinessReport = {
      ready: false,
      checks: { ...readyReport.checks, redis: { ok: false, detail: 'connect ECONNREFUSED 127.0.0.1:6379' }, role: 'standby' },
    };
    const { url } = await start(async () => notReady);
    const res = await fetch(url('/readyz'));
    expect(res.status).toBe(503);
    const body = await res.json() as ReadinessReport;
    expect(body.checks.redis).toEqual({ ok: false, detail: 'connect ECONNREFUSED 127.0.0.1:6379' });
    expect(body.checks.role).toBe('standby');
  });

  it('answers /readyz with 503 when the readiness check throws or hangs', async () => {
    const failing = await start(async () => { throw new Error('nova unreachable'); });
    const res = await fetch(failing.url('/readyz'));
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ ready: false, error: 'nova unreachable' });

    const hanging = await start(() => new Promise<ReadinessReport>(() => {}), 100);
    const res2 = await fetch(hanging.url('/readyz'));
    expect(res2.status).toBe(503);
    expect(((await res2.json()) as { error: string }).error).toMatch(/no answer within 100 ms/);
  });

  it('answers 404 for unknown paths and 405 for writes', async () => {
    const { url } = await start();
    expect((await fetch(url('/'))).status).toBe(404);
    expect((await fetch(url('/metrics/extra'))).status).toBe(404);
    const post = await fetch(url('/metrics'), { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('ignores a query string on known paths', async () => {
    const { url } = await start();
    expect((await fetch(url('/healthz?verbose=1'))).status).toBe(200);
  });

  it('binds only the configured address', async () => {
    const port = await freePort();
    const registry = new Registry();
    const srv = await startMetricsServer({ listen: { host: '127.0.0.2', port }, registry, readiness: async () => readyReport, logger: silentLogger });
    servers.push(srv);
    expect(srv.port).toBe(port);
    expect((await fetch(`http://127.0.0.2:${port}/healthz`)).status).toBe(200);
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });

  it('fails with an error naming the address and the config key when the port is taken', async () => {
    const { srv } = await start();
    await expect(startMetricsServer({ listen: { host: '127.0.0.1', port: srv.port }, registry: new Registry(), readiness: async () => readyReport, logger: silentLogger }))
      .rejects.toMatchObject({ code: 'metrics_listen_failed', message: expect.stringMatching(new RegExp(`127\\.0\\.0\\.1:${srv.port} \\(\\[metrics\\] listen\\): EADDRINUSE`)) });
  });

  it('close() returns although a scraper keeps its connection alive', async () => {
    const registry = new Registry();
    const srv = await startMetricsServer({ listen: { host: '127.0.0.1', port: 0 }, registry, readiness: async () => readyReport, logger: silentLogger });
    const res = await fetch(`http://127.0.0.1:${srv.port}/metrics`, { keepalive: true });
    await res.text();
    await srv.close();
    await expect(fetch(`http://127.0.0.1:${srv.port}/healthz`)).rejects.toThrow();
  });
});
