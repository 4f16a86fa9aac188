import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createMetrics } from '../../../src/metrics/metrics.js';
import { startMetricsServer, type MetricsServer } from '../../../src/metrics/http-server.js';
import { silentLogger } from '../../../src/shared/logger.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const rulesDir = `${root}deploy/prometheus`;
const rulesFile = `${rulesDir}/cmpha-alerts.yml`;

function promtool(args: string[], input?: string) {
  const r = spawnSync('promtool', args, { cwd: rulesDir, input, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

interface Rule { alert: string; expr: string; labels?: Record<string, string>; annotations?: Record<string, string> }
const rules: Rule[] = (parse(readFileSync(rulesFile, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

const REQUIRED_ALERTS = [
  'CmphaDown', 'CmphaNotReady', 'CmphaNoLeader', 'CmphaDetectorStalled', 'CmphaFenceFailed',
  'CmphaIncidentPartialOrFailed', 'CmphaStormBrakeActive', 'CmphaHostAgentDown', 'CmphaHostWithoutFencing', 'CmphaDoubleWriter',
  'CmphaNotificationFailed', 'CmphaJobFailed', 'CmphaControllerIsolated',
];
const DEFAULT_RUNBOOK_BASE = 'https://github.com/cmpha/cmpha/blob/main/docs';

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to dashes. */
function anchors(markdown: string): Set<string> {
  return new Set([...markdown.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => m[1]!.trim().toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-')));
}

describe('alert rules', () => {
  it('pass promtool check rules', () => {
    const r = promtool(['check', 'rules', rulesFile]);
    expect(r.output).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.status, r.output).toBe(0);
  });

  it('pass their promtool unit tests', () => {
    const r = promtool(['test', 'rules', 'cmpha-alerts.test.yml']);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain('SUCCESS');
  });

  it('define every alert operators page on', () => {
    expect(rules.map((r) => r.alert)).toEqual(expect.arrayContaining(REQUIRED_ALERTS));
  });

  it('give every alert a severity, a summary and a runbook_url to a section that exists in docs/operations.md', () => {
    const docAnchors = anchors(readFileSync(`${root}docs/operations.md`, 'utf8'));
    for (const r of rules) {
      expect(['critical', 'warning'], r.alert).toContain(r.labels?.severity);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
      expect(r.annotations?.runbook, r.alert).toBeUndefined();
      const m = new RegExp(`^${DEFAULT_RUNBOOK_BASE.replace(/[.]/g, '\\.')}/operations\\.md#(.+)$`).exec(r.annotations?.runbook_url ?? '');
      expect(m, `${r.alert} runbook_url`).not.toBeNull();
      expect(docAnchors, `${r.alert} runbook anchor`).toContain(m![1]);
    }
  });

  it('point runbook_url at another docs base when installed with npm run alerts -- --runbook-base', () => {
    const r = spawnSync('node', ['scripts/render-alerts.mjs', '--runbook-base', 'https://wiki.example.net/cmpha/'], { cwd: root, encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    const rendered = (parse(r.stdout) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
    expect(rendered.map((x) => x.annotations?.runbook_url)).toEqual(rules.map((x) => x.annotations!.runbook_url!.replace(DEFAULT_RUNBOOK_BASE, 'https://wiki.example.net/cmpha')));
    const bad = spawnSync('node', ['scripts/render-alerts.mjs', '--runbook-base', 'wiki'], { cwd: root, encoding: 'utf8', timeout: 30_000 });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--runbook-base wiki is not a URL');
  });

  it('have unit tests where each alert both fires and stays quiet', () => {
    type Case = { alertname: string; exp_alerts?: unknown[] };
    const tests = (parse(readFileSync(`${rulesDir}/cmpha-alerts.test.yml`, 'utf8')) as { tests: { alert_rule_test?: Case[] }[] }).tests;
    const cases = tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const r of rules) {
      const mine = cases.filter((c) => c.alertname === r.alert);
      expect(mine.some((c) => (c.exp_alerts ?? []).length > 0), `${r.alert} fires somewhere`).toBe(true);
      expect(mine.some((c) => (c.exp_alerts ?? []).length === 0), `${r.alert} stays quiet somewhere`).toBe(true);
    }
  });

  it('only use metrics that createMetrics registers', async () => {
    const registry = new Registry();
    createMetrics(registry);
    const known = new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
    for (const r of rules) {
      for (const name of r.expr.match(/\bcmpha_[a-z_]+/g) ?? []) {
        expect(known, `${r.alert} uses ${name}`).toContain(name.replace(/_(bucket|sum|count)$/, ''));
      }
    }
  });
});

describe('/metrics output', () => {
  let server: MetricsServer | undefined;
  afterAll(async () => { await server?.close(); });

  it('passes promtool check metrics with every metric touched', async () => {
    const registry = new Registry();
    const metrics = createMetrics(registry, { version: '0.0.0-test' });
    // Touch every handle with every label it declares, so each metric has at least one series.
    for (const handle of Object.values(metrics)) {
      if (!(handle instanceof Counter || handle instanceof Gauge || handle instanceof Histogram)) continue;
      const labelNames = (handle as unknown as { labelNames: string[] }).labelNames;
      const labels = Object.fromEntries(labelNames.map((n) => [n, `sample_${n}`]));
      if (handle instanceof Histogram) handle.observe(labels, 1.5);
      else handle.inc(labels, 1);
    }
    metrics.lastFailover.record({ host: 'sample-host', outcome: 'resolved', durationSeconds: 120, at: 1_700_000_000 });
    server = await startMetricsServer({
      listen: { host: '127.0.0.1', port: 0 }, registry, logger: silentLogger,
      readiness: async () => { throw new Error('not used'); },
    });
    const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();

    for (const m of await registry.getMetricsAsJSON()) {
      expect(text, `${m.name} has a series`).toMatch(new RegExp(`^${m.name}(_bucket|_sum|_count)?(\\{[^}]*\\})? `, 'm'));
    }
    const r = promtool(['check', 'metrics'], text);
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  });

  it('promtool check metrics would catch a badly named metric', () => {
    const bad = '# HELP cmpha_bad_count A counter without _total.\n# TYPE cmpha_bad_count counter\ncmpha_bad_count 1\n';
    expect(promtool(['check', 'metrics'], bad).status).not.toBe(0);
  });
});
