import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createMetrics } from '../../../src/metrics/metrics.js';

const file = fileURLToPath(new URL('../../../deploy/grafana/cmpha-dashboard.json', import.meta.url));

interface Target { refId: string; expr: string; datasource?: { type: string; uid: string } }
interface Panel { id: number; type: string; title: string; datasource?: { type: string; uid: string }; targets?: Target[]; gridPos: { h: number; w: number; x: number; y: number } }
interface Annotation { name: string; expr?: string; datasource: { type: string; uid: string } }
interface Variable { name: string; type: string; query: unknown; datasource?: { type: string; uid: string } }
interface Dashboard {
  __inputs?: unknown[]; uid: string; title: string; panels: Panel[];
  annotations: { list: Annotation[] }; templating: { list: Variable[] };
}

const dashboard = JSON.parse(readFileSync(file, 'utf8')) as Dashboard;
const dataPanels = dashboard.panels.filter((p) => p.type !== 'row');
const promAnnotations = dashboard.annotations.list.filter((a) => a.datasource.type === 'prometheus');
const exprs = [
  ...dataPanels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr }))),
  ...promAnnotations.map((a) => ({ panel: `annotation ${a.name}`, expr: a.expr! })),
];

async function registeredNames(): Promise<Set<string>> {
  const registry = new Registry();
  createMetrics(registry);
  return new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
}

describe('Grafana dashboard', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'cmpha-dashboard-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('needs no __inputs: a datasource variable names the Prometheus, so file and sidecar provisioning work as is', () => {
    const text = readFileSync(file, 'utf8');
    expect(dashboard.__inputs).toBeUndefined();
    expect(text).not.toMatch(/\$\{DS_[A-Z_]+\}/);
    expect(dashboard.templating.list[0]).toMatchObject({ name: 'datasource', type: 'datasource', query: 'prometheus' });
    const ds = { type: 'prometheus', uid: '${datasource}' };
    for (const p of dataPanels) {
      expect(p.datasource, p.title).toEqual(ds);
      for (const t of p.targets ?? []) expect(t.datasource, p.title).toEqual(ds);
    }
    for (const v of dashboard.templating.list.filter((x) => x.type === 'query')) expect(v.datasource, v.name).toEqual(ds);
    expect(promAnnotations.length).toBeGreaterThan(0);
    for (const a of promAnnotations) expect(a.datasource, a.name).toEqual(ds);
  });

  it('shows the last failover (duration, host, when), incidents as annotations, and readiness with Redis', () => {
    const byTitle = (t: string) => dataPanels.find((p) => p.title === t);
    expect(byTitle('Last failover: duration')?.targets?.[0]?.expr).toContain('cmpha_last_failover_duration_seconds');
    expect(byTitle('Last failover: host')?.targets?.[0]?.expr).toContain('cmpha_last_failover_info');
    expect(byTitle('Last failover: when')?.targets?.[0]?.expr).toContain('cmpha_last_failover_timestamp_seconds');
    expect(promAnnotations.map((a) => a.expr).join('\n')).toContain('cmpha_incidents_opened_total');
    expect(promAnnotations.map((a) => a.expr).join('\n')).toContain('cmpha_incidents_closed_total');
    expect(byTitle('Readiness checks per replica')?.targets?.[0]?.expr).toContain('cmpha_readiness_check');
  });

  it('has unique panel ids and every data panel has a query', () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dataPanels) expect(p.targets?.length, p.title).toBeGreaterThan(0);
  });

  it('queries only metrics that createMetrics registers', async () => {
    const known = await registeredNames();
    for (const { panel, expr } of exprs) {
      const used = expr.match(/\b(cmpha|process)_[a-z_]+/g) ?? [];
      expect(used.length, `${panel}: ${expr}`).toBeGreaterThan(0);
      for (const name of used) {
        expect(known, `${panel} uses ${name}`).toContain(name.replace(/_(bucket|sum|count)$/, ''));
      }
    }
  });

  it('covers verdicts, incidents, failover, evacuations, fencing, notifications, leader and storm brake', () => {
    const all = exprs.map((e) => e.expr).join('\n');
    for (const name of ['cmpha_hosts{', 'cmpha_incidents_opened_total', 'cmpha_incidents_closed_total', 'cmpha_failover_duration_seconds_bucket',
      'cmpha_evacuations_total', 'cmpha_fence_attempts_total', 'cmpha_fence_failures_total', 'cmpha_notifications_total',
      'cmpha_leader', 'cmpha_storm_brake_active']) {
      expect(all, name).toContain(name);
    }
  });

  it('has queries that Prometheus can parse', () => {
    // promtool parses recording-rule expressions; Grafana's variables are replaced by what Grafana would send.
    const rules = {
      groups: [{
        name: 'dashboard',
        rules: exprs.map((e, i) => ({
          record: `cmpha_dashboard_query_${i}`,
          expr: e.expr.replaceAll('$__rate_interval', '1m').replaceAll('$job', '.*'),
        })),
      }],
    };
    const path = join(tmp, 'queries.yml');
    writeFileSync(path, stringify(rules));
    const r = spawnSync('promtool', ['check', 'rules', path], { encoding: 'utf8', timeout: 60_000 });
    expect(`${r.stdout}${r.stderr}`).toContain(`SUCCESS: ${exprs.length} rules found`);
    expect(r.status).toBe(0);
  });
});
