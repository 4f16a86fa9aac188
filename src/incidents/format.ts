import { formatDuration } from '../shared/duration.js';
import { formatTable as table } from '../shared/table.js';
import type { Incident, IncidentRecord, InstanceEntry, TimelineEntry } from './types.js';

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
  out += `  opened    ${time(inc.openedAt)} (${inc.origin === 'operator' ? 'operator request' : 'detector'}; failure started ${time(inc.failureStartedAt)}${inc.lastAliveAt !== undefined ? `, last sign of life ${time(inc.lastAliveAt)}` : ''})\n`;
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
    out += table(['  NAME', 'ID', 'STATE', 'TARGET', 'TRIES', 'TOOK', 'DOWNTIME', 'NOTE'], inc.instances.map((e) => [
      `  ${e.name}`, e.id, e.state, e.target ?? '-', String(e.attempts), e.evacuationMs !== undefined ? formatDuration(e.evacuationMs) : '-',
      e.downtimeMs !== undefined ? formatDuration(e.downtimeMs) : '-', e.error ?? e.skipReason ?? (e.state === 'awaiting_capacity' ? `waiting for room: ${e.noRoom ?? ''}` : ''),
    ]));
    const waiting = inc.instances.filter((e) => e.state === 'awaiting_capacity');
    if (waiting.length > 0) {
      out += '\nwaiting for room (evacuated as soon as a host has room; add a spare, enable or repair a host, or free room)\n';
      for (const e of waiting) out += `  ${e.name}: since ${e.awaitingSince !== undefined ? time(e.awaitingSince) : '?'}: ${e.noRoom ?? 'no host has room'}\n`;
    }
    const down = inc.instances.filter((e) => e.downFrom !== undefined && e.backAt !== undefined);
    if (down.length > 0) {
      out += '\ndowntime per instance (last answer before the failure → first answer on the new host)\n';
      for (const e of down) out += `  ${e.name}: ${formatDuration(e.downtimeMs ?? e.backAt! - e.downFrom!)}, from ${time(e.downFrom!)} to ${time(e.backAt!)}\n`;
    }
    const degraded = inc.instances.filter((e) => e.state === 'degraded');
    if (degraded.length > 0) {
      out += '\nlook at (servers running without their network)\n';
      for (const e of degraded) out += `  ${e.name} on ${e.target ?? '?'}: ${networkAdvice(e.networkIssue, e.target)}\n`;
    }
  }
  if (inc.deliveries.length > 0) {
    out += '\nnotifications\n';
    for (const d of inc.deliveries) out += `  ${time(d.at)}  ${d.event.padEnd(18)} ${d.channel} → ${d.recipient}: ${d.ok ? 'sent' : `FAILED ${d.error ?? ''}`}\n`;
  }
  return out;
}

/** What an operator should look at when a server came up on its new host without its network. */
export function networkAdvice(issue: InstanceEntry['networkIssue'], host: string | null): string {
  const on = host ?? 'the new host';
  if (issue === 'port-binding') return `the port binding (openstack port show; binding:host_id, binding:vif_type) and the L2 agent on ${on} (openstack network agent list --host ${on})`;
  if (issue === 'port-down') return `the L2 agent on ${on} (openstack network agent list --host ${on}): the port is bound but not ACTIVE`;
  return `the security groups of the server (ICMP allowed?), the L2 agent on ${on}, and the guest itself (console log)`;
}
