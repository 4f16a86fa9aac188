import { describeLevels } from '../fencing/check-fencing.js';
import { isUnfencedDevice } from '../fencing/devices/registry.js';
import { formatTable } from '../shared/table.js';
import type { DoctorHost, DoctorReport } from './types.js';

const MARK = { ok: 'ok', warn: 'WARN', fail: 'FAIL' } as const;

function table(rows: string[][]): string[] {
  return formatTable(rows[0]!, rows.slice(1)).replace(/\n$/, '').split('\n');
}

function fencingCell(h: DoctorHost): string {
  const f = h.fencing;
  if (f.driver === 'unconfigured') return 'none configured';
  if (f.driver === 'none' || isUnfencedDevice(f.driver)) return f.driver;
  if (f.reachable === false) return `${f.driver} unreachable`;
  return `${f.driver} ${f.power ?? (f.works ? '' : 'error')}`.trim();
}

function mgmtCell(h: DoctorHost): string {
  if (h.mgmt.ip === null) return h.role === 'spare' ? '-' : 'none';
  const said = h.mgmt.answering === null ? 'not probed' : h.mgmt.answering ? 'answers' : 'silent';
  return `${h.mgmt.ip} ${said}`;
}

function serversCell(h: DoctorHost): string {
  if (h.role === 'spare') return '-';
  if (!h.servers) return '?';
  return `${h.servers.toEvacuate}/${h.servers.total} (${h.servers.vcpus} vCPU, ${h.servers.ramMb} MB)`;
}

/** The report an operator reads: checks, a host table, each host's reasons, and the one-line answer. */
export function formatDoctorReport(r: DoctorReport): string {
  const lines: string[] = ['Checks'];
  lines.push(...table(r.checks.map((c) => [`  ${MARK[c.status]}`, c.name, c.detail])));
  lines.push('', 'Hosts');
  const rows = [['HOST', 'ROLE', 'ZONE', 'SERVICE', 'FENCING', 'MGMT IP', 'TO EVACUATE', 'VERDICT', 'REASON']];
  for (const h of r.hosts) {
    const svc = h.service ? `${h.service.state}/${h.service.status}${h.service.forcedDown ? '/forced-down' : ''}` : '-';
    const more = h.problems.length > 1 ? ` (+${h.problems.length - 1} more below)` : '';
    rows.push([h.host, h.role, h.zone ?? '-', svc, fencingCell(h), mgmtCell(h), serversCell(h), MARK[h.status].toUpperCase(), `${h.problems[0]?.detail ?? ''}${more}`]);
  }
  lines.push(...table(rows));
  const extra = r.hosts.filter((h) => h.problems.length > 1);
  if (extra.length > 0) {
    lines.push('');
    for (const h of extra) lines.push(`${h.host}:`, ...h.problems.map((p) => `  ${MARK[p.status]} ${p.detail}`));
  }
  const withLevels = r.hosts.filter((h) => h.fencing.levels);
  if (withLevels.length > 0) {
    lines.push('', 'Fence levels (in order; each device asked read-only)');
    for (const h of withLevels) lines.push(`  ${h.host}: ${describeLevels(h.fencing.levels, true)}`);
  }
  const { summary } = r;
  lines.push('', summary.blockedBy
    ? `failover would work for none of ${summary.total} hosts while ${summary.blockedBy} — see FAIL above`
    : `failover would work for ${summary.protected} of ${summary.total} hosts${r.ok ? '' : ' — see FAIL above'}`);
  return `${lines.join('\n')}\n`;
}

/** `--json`: `{ ok, checks: [{name, status, detail}], hosts: [{host, zone, status, problems, ...}], summary }`. */
export function doctorJson(r: DoctorReport): string {
  return `${JSON.stringify({ ok: r.ok, checks: r.checks, hosts: r.hosts, summary: r.summary, durationMs: r.durationMs }, null, 2)}\n`;
}
