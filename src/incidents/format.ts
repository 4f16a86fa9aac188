import { formatDuration } from '../shared/duration.js';
import { formatTable as table } from '../shared/table.js';
import type { Incident, IncidentRecord, TimelineEntry } from './types.js';

const time = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
/** Steps follow each other within seconds: the timeline shows milliseconds. */
const precise = (ms: number) => new Date(ms).toISOString().replace('T', ' ');


/** `cmpha incidents`: one line per incident, newest first. */
export function formatIncidentList(records: readonly IncidentRecord[]): string {
  if (records.length === 0) return 'no incidents recorded\n';
  return table(['ID', 'HOST', 'STATUS', 'OPENED', 'FAILOVER', 'ACK'], records.map((r) => [
    r.id, r.host, r.status, time(r.openedAt), r.failoverMs !== undefined ? formatDuration(r.failoverMs) : '-', r.ack ? r.ack.by : '-',
  ]));
}

/** One timeline line, as `incidents show` and `evacuate` print it. */
export function formatTimelineEntry(t: TimelineEntry): string {
  return `${precise(t.at)}  ${t.level === 'info' ? '    ' : t.level === 'warning' ? 'WARN' : 'CRIT'}  ${t.step.padEnd(10)} ${t.message}`;
}

/** `cmpha incidents show ID`: what happened, in order, then where every instance ended. */
export function formatIncident(inc: Incident): string {
  let out = `incident ${inc.id}: host ${inc.host}, ${inc.status.toUpperCase()}\n`;
  out += `  opened    ${time(inc.openedAt)} (${inc.origin === 'operator' ? 'operator request' : 'detector'}; failure started ${time(inc.failureStartedAt)})\n`;
  if (inc.closedAt !== undefined) out += `  closed    ${time(inc.closedAt)}${inc.failoverMs !== undefined ? `, failover took ${formatDuration(inc.failoverMs)}` : ''}\n`;
  if (inc.fence?.confirmedBy) {
    const c = inc.fence.confirmedBy;
    out += `  fence     CONFIRMED OFF BY AN OPERATOR: ${c.user} at ${time(c.at)}${c.note ? ` ("${c.note}")` : ''}\n`;
  } else if (inc.fence) {
    const f = inc.fence;
    const how = f.driver === 'ceph' ? 'storage blocklisted' : `power off${f.alreadyOff ? ' (was already off)' : ''}`;
    out += `  fence     ${f.unfenced ? 'NOT FENCED (noop driver)' : `${f.level !== undefined ? `level ${f.level}: ` : ''}${f.driver} ${f.target}: ${how}`}\n`;
    if (f.storage) out += `  storage   ${f.storage.ok ? 'blocklisted' : `FAILED ${f.storage.code ?? ''} (warning only)`}: ${f.storage.detail}\n`;
  } else if (inc.status === 'awaiting_fence') {
    out += `  fence     FAILED: waiting for an operator to make sure ${inc.host} is off and run \`cmpha fence confirm ${inc.host} --yes\`\n`;
  }
  if (inc.spares) out += `  spare     ${inc.spares.length ? inc.spares.map((s) => `${s.host} (${s.serverIds.length})`).join(', ') : 'none: the scheduler chose'}\n`;
  if (inc.error) out += `  error     ${inc.error.code}: ${inc.error.message}\n`;
  if (inc.ack) out += `  acked     by ${inc.ack.by} at ${time(inc.ack.at)}\n`;
  out += '\ntimeline\n';
  for (const t of inc.timeline) out += `  ${formatTimelineEntry(t)}\n`;
  if (inc.instances.length > 0) {
    out += '\ninstances\n';
    out += table(['  NAME', 'ID', 'STATE', 'TARGET', 'TRIES', 'TOOK', 'NOTE'], inc.instances.map((e) => [
      `  ${e.name}`, e.id, e.state, e.target ?? '-', String(e.attempts), e.evacuationMs !== undefined ? formatDuration(e.evacuationMs) : '-', e.error ?? e.skipReason ?? '',
    ]));
  }
  if (inc.deliveries.length > 0) {
    out += '\nnotifications\n';
    for (const d of inc.deliveries) out += `  ${time(d.at)}  ${d.event.padEnd(18)} ${d.channel} → ${d.recipient}: ${d.ok ? 'sent' : `FAILED ${d.error ?? ''}`}\n`;
  }
  return out;
}
