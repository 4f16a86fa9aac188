import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { formatDuration } from '../shared/duration.js';
import { CmphaError } from '../shared/errors.js';
import { EVENT_CATALOGUE, effectiveSeverity, EVENT_TYPES } from './events.js';
import { fitSms, oneLine, toSms } from './sms-text.js';
import { escapers, MESSAGE_VARS, renderTemplate, unknownNames } from './template-engine.js';
import type { AffectedInstance, NotificationEvent, NotificationEventType, RenderedMessage } from './types.js';

// Words for each event: a subject, a one-line SMS, a plain-text and an HTML body. Built from the event's
// fields only (never from config), so no secret can end up in a message. Files in template_dir replace the
// built-in words per event and form.

export const USER_NOTICE = 'user-notice';
type Form = 'subject' | 'txt' | 'html' | 'sms';
type TemplateName = NotificationEventType | typeof USER_NOTICE;

/** Operator-supplied templates by `<name>.<form>`. */
export type TemplateSet = ReadonlyMap<string, string>;
export const NO_TEMPLATES: TemplateSet = new Map();

/**
 * Reads `<event>.{subject,txt,html,sms}` and `user-notice.*` from `dir`. Other files are ignored; a template
 * naming an unknown `{{value}}` is an error naming the file, raised at start-up rather than at send time.
 */
export function loadTemplateOverrides(dir: string): TemplateSet {
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch (err) {
    throw new CmphaError('template_dir_unreadable', `[escalation] template_dir: cannot read ${dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const names = new Set<string>([...EVENT_TYPES, USER_NOTICE]);
  const out = new Map<string, string>();
  for (const file of files) {
    const m = /^(.+)\.(subject|txt|html|sms)$/.exec(file);
    if (!m || !names.has(m[1]!)) continue;
    const full = path.join(dir, file);
    const content = readFileSync(full, 'utf8');
    const unknown = unknownNames(content, MESSAGE_VARS);
    if (unknown.length > 0) {
      throw new CmphaError('template_invalid', `template ${full}: unknown value(s) ${unknown.map((n) => `{{${n}}}`).join(', ')}; known: ${MESSAGE_VARS.join(', ')}`);
    }
    out.set(file, content);
  }
  return out;
}

const ACTIONS: Readonly<Record<NotificationEventType, string>> = {
  'host-suspected': 'Nothing yet: cmpha is confirming whether the host is really dead.',
  'incident-opened': 'Nothing yet: cmpha is fencing the host and evacuating its instances. Another message follows when it is done.',
  'fence-failed': 'The host could not be proven powered off, so its instances were NOT evacuated and are still down. Power it off by other means (or repair its BMC), make sure it is off, then run `cmpha fence confirm HOST --yes`.',
  'fence-confirmed': 'An operator declared the host off; cmpha now forces it down and evacuates its instances on their word. If the host is in fact running, power it off at once: its disks get a second writer.',
  'fence-breached': 'The host was fenced but its BMC now reads power ON: it may be writing to the disks of the servers cmpha moved. Power it off now and check the moved servers\' disks.',
  'double-writer': 'A recovered server\'s Ceph disk is held open by more than one host, or by a host Nova does not place it on: two writers corrupt the disk. Stop the writer that is not on the server\'s host now (or blocklist its address), then check the disk.',
  'storm-brake': 'Too many hosts look dead at once; cmpha assumes the fault is its own view and does nothing. Check the network and the Nova API from the controller.',
  'controller-isolated': 'The controller cannot reach its isolation addresses or the Nova API, or Nova lists no usable compute service, so it does nothing. Check the controller\'s own network and the Nova API.',
  'detector-stalled': 'The detector has not finished a round for several intervals (a Nova API or probe that does not answer), so no failure would be noticed. Check the Nova API and the controller\'s logs; restart cmpha if it stays stuck.',
  'incident-resolved': 'Repair the failed host. It stays disabled and forced down until you bring it back.',
  'incident-partial': 'Instances marked NOT MOVED are still down: evacuate or rebuild them by hand, then repair the host.',
  'incident-failed': 'Recovery failed and the instances listed are still down. Investigate the error below and recover them by hand.',
  'incident-aborted': 'Recovery stopped before evacuating anything. Read the reason below; the host may need a manual check.',
  'agent-down': 'nova-compute is down but the host is alive, so cmpha does not evacuate. Restart nova-compute on the host.',
  'isolated-mgmt': 'The host lost its management network but another of its addresses answers (the message says which), so cmpha does not fence it. Check its management link.',
  'inventory-suspicious': 'Nova listed servers on this host before it failed and lists none now. Check with `openstack server list --all-projects --host HOST` whether servers were deleted or Nova is answering wrongly; any left there are NOT recovered.',
  'orphan-resumed': 'cmpha lost the record of a recovery (its Redis did not persist) and found it again from Nova: the host was disabled by cmpha and still has servers. The recovery runs again; make Redis persist (appendonly yes).',
  'capacity-wait': 'The instances listed fit on no host and are still down: cmpha evacuates each as soon as room appears ([evacuation] capacity_wait bounds the wait). Add a spare (spare_hosts, or disable a host with the spare reason), enable or repair a host, or free room on one.',
  'capacity-found': 'Nothing: the instance that waited for room is being evacuated now; the incident\'s notice says how it ended.',
  'instance-restarted': 'Nothing: the instance crashed or hung on a healthy host and cmpha stopped and started it there. If it keeps failing, cmpha stops restarting it and pages.',
  'instance-failed': 'The instance is NOT running: it failed too often, or stopping and starting it did not bring it back (the reason is below). Look at its console and its host, then start it by hand.',
  'process-down': 'masakari-processmonitor could not restart a process on this host (named above). Restart it on the host; cmpha has no remediation for it.',
  test: 'Nothing: this is a test message.',
};

const SEV_WORD = { info: 'INFO', warning: 'WARNING', critical: 'CRITICAL' } as const;
const SEV_SHORT = { info: 'info', warning: 'WARN', critical: 'CRIT' } as const;

function instanceLine(i: AffectedInstance): string {
  if (i.state === 'restarted') return `${i.name} (${i.id}): restarted on ${i.sourceHost}`;
  const moved = i.targetHost !== null && i.targetHost !== i.sourceHost;
  const where = moved ? `${i.sourceHost} -> ${i.targetHost}` : `${i.sourceHost} -> NOT MOVED`;
  // Only a moved instance's downtime is over; for the others a figure would suggest it is.
  const downtime = i.downtimeMs === undefined || !moved ? '' : `, downtime ${formatDuration(i.downtimeMs)}`;
  const error = i.error ? `, error: ${i.error}` : '';
  return `${i.name} (${i.id}): ${where}, ${i.state}${downtime}${error}`;
}

/** The cloud's words a message uses where the built-in text names Nova (the compute port's names). */
export interface CloudWords {
  readonly cloud: string;
  readonly agent: string;
  readonly isolated: string;
}

/**
 * The built-in titles and actions are written in Nova's words; for another cloud its own replace them, so a
 * Cloudpods operator reads "Cloudpods" and "host agent" (operator templates are left as written).
 */
export function inCloudWords(text: string, words: CloudWords | undefined): string {
  if (!words || words.cloud === 'Nova') return text;
  return text.replace(/nova-compute/g, words.agent).replace(/\bNova\b/g, words.cloud).replace(/forced down/g, words.isolated);
}

function baseVars(event: NotificationEvent, extra: { ackId?: string; repeat?: string; words?: CloudWords }): Record<string, string> {
  const instances = event.instances ?? [];
  return {
    event: event.type,
    severity: effectiveSeverity(event),
    title: inCloudWords(EVENT_CATALOGUE[event.type].title, extra.words),
    host: event.host ?? '',
    incident: event.incidentId ?? '',
    summary: event.summary,
    details: event.details ?? '',
    at: new Date(event.at).toISOString(),
    instances: instances.map((i) => `  - ${instanceLine(i)}`).join('\n'),
    instance_count: String(instances.length),
    action: inCloudWords(ACTIONS[event.type], extra.words),
    ack_id: extra.ackId ?? '',
    repeat: extra.repeat ?? '',
  };
}

function pick(templates: TemplateSet, name: TemplateName, form: Form): string | undefined {
  return templates.get(`${name}.${form}`);
}

function finish(
  event: NotificationEvent,
  name: TemplateName,
  vars: Record<string, string>,
  templates: TemplateSet,
  builtIn: { subject: string; text: string; html: string; sms: string; line: string },
): RenderedMessage {
  const tSubject = pick(templates, name, 'subject');
  const tText = pick(templates, name, 'txt');
  const tHtml = pick(templates, name, 'html');
  const tSms = pick(templates, name, 'sms');
  const subject = toSms(tSubject ? renderTemplate(tSubject, vars, escapers.none) : builtIn.subject, 200);
  const withSubject = { ...vars, subject };
  const text = tText ? renderTemplate(tText, withSubject, escapers.none) : builtIn.text;
  const sms = tSms ? toSms(renderTemplate(tSms, withSubject, escapers.none)) : builtIn.sms;
  const line = tSms ? sms : builtIn.line;
  const all = { ...withSubject, text, sms };
  const html = tHtml ? renderTemplate(tHtml, all, escapers.html) : builtIn.html;
  return { event: event.type, severity: effectiveSeverity(event), subject, text, html, sms, line, vars: all };
}

const h = escapers.html;

function htmlPage(title: string, rows: [string, string][], paragraphs: string[], list: string[]): string {
  const table = rows
    .filter(([, v]) => v !== '')
    .map(([k, v]) => `<tr><th align="left">${h(k)}</th><td>${h(v)}</td></tr>`)
    .join('');
  const items = list.length > 0 ? `<ul>${list.map((l) => `<li>${h(l)}</li>`).join('')}</ul>` : '';
  const paras = paragraphs.filter((p) => p !== '').map((p) => `<p>${h(p).replace(/\n/g, '<br>')}</p>`).join('');
  return `<!doctype html><html><body><h2>${h(title)}</h2><table>${table}</table>${paras}${items}</body></html>`;
}

/** The message admins and on-call receive for an event. */
export function renderEventMessage(
  event: NotificationEvent,
  opts: { templates?: TemplateSet; ackId?: string; repeat?: { n: number; of: number }; words?: CloudWords } = {},
): RenderedMessage {
  const repeat = opts.repeat ? `repeat ${opts.repeat.n}/${opts.repeat.of}` : undefined;
  const vars = baseVars(event, { ackId: opts.ackId, repeat, ...(opts.words ? { words: opts.words } : {}) });
  const sev = effectiveSeverity(event);
  const hostPart = event.host ? ` (${event.host})` : '';
  const subject = `${SEV_WORD[sev]}: ${vars.title}${hostPart}${repeat ? ` [${repeat}]` : ''}`;
  const instances = event.instances ?? [];
  const ackLine = opts.ackId ? `Acknowledge to stop repeats: cmpha incidents ack ${opts.ackId}` : '';
  const rows: [string, string][] = [
    ['Event', event.type], ['Severity', sev], ['Host', vars.host!], ['Incident', vars.incident!], ['Time', vars.at!],
  ];
  const text = [
    vars.title,
    '',
    event.summary,
    '',
    ...rows.filter(([, v]) => v !== '').map(([k, v]) => `${`${k}:`.padEnd(10)}${v}`),
    ...(event.details ? ['', event.details] : []),
    ...(instances.length > 0 ? ['', `Instances (${instances.length}):`, vars.instances!] : []),
    '',
    `What needs a human: ${vars.action}`,
    ...(ackLine ? ['', ackLine] : []),
    ...(repeat ? [`(${repeat}: no one has acknowledged yet)`] : []),
  ].join('\n');
  const html = htmlPage(vars.title!, rows, [event.summary, event.details ?? '', `What needs a human: ${vars.action}`, ackLine], instances.map(instanceLine));
  const smsParts = [`cmpha ${SEV_SHORT[sev]} ${event.type}${event.host ? ` ${event.host}` : ''}:`, event.summary, opts.ackId ? `ack ${opts.ackId}` : ''] as const;
  const sms = fitSms(...smsParts);
  return finish(event, event.type, vars, opts.templates ?? NO_TEMPLATES, { subject, text, html, sms, line: oneLine(...smsParts) });
}

/** The one message an instance owner receives for an incident, listing only their instances. */
export function renderUserNotice(
  event: NotificationEvent,
  owner: { recipient: string; name?: string; instances: readonly AffectedInstance[] },
  opts: { templates?: TemplateSet } = {},
): RenderedMessage {
  const own = { ...event, instances: owner.instances };
  const vars: Record<string, string> = { ...baseVars(own, {}), user: owner.name ?? owner.recipient };
  const moved = owner.instances.filter((i) => i.targetHost !== null && i.targetHost !== i.sourceHost);
  const stuck = owner.instances.length - moved.length;
  const host = event.host ?? owner.instances[0]?.sourceHost ?? 'a compute host';
  const subject = stuck === 0
    ? `Your instances were restarted on another host after ${host} failed`
    : `Your instances are affected by the failure of ${host}`;
  const lines = owner.instances.map((i) => {
    if (i.targetHost === null || i.targetHost === i.sourceHost) return `${i.name} (${i.id}): NOT moved yet and still down; the operators have been told`;
    if (i.state === 'degraded') {
      return `${i.name} (${i.id}): moved from ${i.sourceHost} to ${i.targetHost}, but its network is not back yet; the operators have been told`;
    }
    const down = i.downFrom !== undefined && i.backAt !== undefined
      ? `; your server ${i.name} was unreachable for ${formatDuration(i.downtimeMs ?? i.backAt - i.downFrom)}, from ${new Date(i.downFrom).toISOString()} to ${new Date(i.backAt).toISOString()}`
      : i.downtimeMs === undefined ? '' : `, back after about ${formatDuration(i.downtimeMs)}`;
    return `${i.name} (${i.id}): moved from ${i.sourceHost} to ${i.targetHost}${down}`;
  });
  const advice = moved.length > 0
    ? 'Moved instances were restarted from their disks on the new host, as after a power cut: check that your services came back, and anything that was only in memory is lost.'
    : '';
  const text = [
    `Hello ${vars.user},`,
    '',
    `The compute host ${host} that ran your instances failed at ${vars.at}. What happened to your instances:`,
    '',
    ...lines.map((l) => `  - ${l}`),
    '',
    ...(advice ? [advice, ''] : []),
    ...(event.incidentId ? [`Reference: incident ${event.incidentId}`] : []),
  ].join('\n');
  const html = htmlPage(subject, [['Host', host], ['Time', vars.at!], ['Incident', vars.incident!]], [`Hello ${vars.user},`, advice], lines);
  const names = owner.instances.map((i) => i.name).join(', ');
  const stuckNames = owner.instances.filter((i) => !moved.includes(i)).map((i) => i.name).join(', ');
  const smsParts: readonly [string, string, string] = stuck === 0
    ? [`cmpha: host ${host} failed; your instance(s)`, names, `were restarted on another host${event.incidentId ? ` (${event.incidentId})` : ''}`]
    : [`cmpha: host ${host} failed; ${stuck} of your instance(s) still down:`, `${stuckNames};`, 'operators informed'];
  const sms = fitSms(...smsParts);
  return finish(own, USER_NOTICE, { ...vars, instances: lines.map((l) => `  - ${l}`).join('\n') }, opts.templates ?? NO_TEMPLATES, { subject, text, html, sms, line: oneLine(...smsParts) });
}
