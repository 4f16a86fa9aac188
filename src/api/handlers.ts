import type { HostConfig } from '../config/types.js';
import { resume, StormBrakeStore } from '../detector/storm-brake-store.js';
import { describeDisarm, parseUntil, scopeKey, scopeOf, type DisarmScope, type HostPlace } from '../detector/disarm.js';
import { arm, disarm, disarmAudit, disarmViews } from '../detector/ha-control.js';
import type { HostReport, RoundReport } from '../detector/types.js';
import { IncidentStore } from '../incidents/incident-store.js';
import type { IncidentRecord } from '../incidents/types.js';
import { isTerminalStatus } from '../incidents/types.js';
import { acknowledge } from '../notifier/ack.js';
import { isoTimes } from '../shared/iso-times.js';
import { CmphaError } from '../shared/errors.js';
import { systemClock } from '../shared/time.js';
import { ApiError } from './api-error.js';
import type { Caller } from './auth.js';
import { masakariTime, NotificationStore, validateNotification, type NotificationStatus, type StoredNotification } from './masakari-notifications.js';
import { SegmentStore } from '../masakari/segments.js';
import { allSegments, segmentOf } from './masakari-segments.js';
import type { ApiDeps } from './types.js';

export interface Resources {
  listIncidents(q: URLSearchParams): Promise<unknown>;
  showIncident(id: string): Promise<unknown>;
  ackIncident(id: string, body: unknown, caller: Caller): Promise<unknown>;
  listHosts(): Promise<unknown>;
  showHost(name: string): Promise<unknown>;
  confirmFence(host: string, body: unknown, caller: Caller): Promise<unknown>;
  stormBrake(): Promise<unknown>;
  resume(caller: Caller): Promise<unknown>;
  haStatus(q: URLSearchParams): Promise<unknown>;
  haDisarm(body: unknown, caller: Caller): Promise<unknown>;
  haArm(body: unknown, caller: Caller): Promise<unknown>;
  createNotification(body: unknown, caller: Caller): Promise<unknown>;
  listNotifications(q: URLSearchParams): Promise<unknown>;
  showNotification(uuid: string): Promise<unknown>;
}

function fencingOf(host: string, hosts: Readonly<Record<string, HostConfig>>): string {
  return hosts[host]?.fence.driver ?? 'none';
}

interface IncidentSummary {
  readonly id: string;
  readonly status: string;
  readonly origin: string;
  readonly openedAt: number;
  readonly closedAt: number | null;
  /** Why the detector opened it (its evidence at the time). */
  readonly reasons: readonly string[];
}

function summary(r: IncidentRecord): IncidentSummary {
  const reasons = (r.evidence as { reasons?: unknown } | null)?.reasons;
  return {
    id: r.id, status: r.status, origin: r.origin, openedAt: r.openedAt, closedAt: r.closedAt ?? null,
    reasons: Array.isArray(reasons) ? reasons.filter((x): x is string => typeof x === 'string') : [],
  };
}

/**
 * A host as the detector last saw it, with its open and its latest incident: while and after cmpha recovers a
 * host it has disabled it, so the detector calls it maintenance; the incidents say what happened.
 */
function hostView(h: HostReport, hosts: Readonly<Record<string, HostConfig>>, open: IncidentRecord | null, latest: IncidentRecord | null): unknown {
  return {
    host: h.host, zone: h.zone, verdict: h.verdict, action: h.action, fencing: fencingOf(h.host, hosts), incidentId: h.incidentId ?? open?.id ?? null,
    held: h.held ?? null,
    openIncident: open ? summary(open) : null, latestIncident: latest ? summary(latest) : null, evidence: h.evidence,
  };
}

function roundView(r: RoundReport): unknown {
  return { round: r.round, startedAt: r.startedAt, durationMs: r.durationMs, leader: r.leader, dryRun: r.dryRun, isolated: r.isolated, isolationReason: r.isolationReason, probeFailed: r.probeFailed };
}

/** A Masakari notification's status, read from what cmpha did about the host since. */
function notificationStatus(n: StoredNotification, incidents: readonly IncidentRecord[], round: RoundReport | null): { status: NotificationStatus; message: string; incidentId: string | null } {
  if (n.type !== 'COMPUTE_HOST') {
    const o = n.outcome ?? { status: 'new' as const, message: 'waiting for the leading controller' };
    return { status: o.status, message: o.message, incidentId: o.recordId ?? null };
  }
  if (n.payload.event === 'STARTED') return { status: 'ignored', message: 'a host reported started is recorded only', incidentId: null };
  const created = Date.parse(`${n.created_at}Z`);
  const linked = (n.incident_id ? incidents.find((i) => i.id === n.incident_id) : undefined)
    ?? incidents.filter((i) => i.host === n.hostname && i.openedAt >= created).sort((a, b) => a.openedAt - b.openedAt)[0];
  if (linked) {
    const status: NotificationStatus = !isTerminalStatus(linked.status) ? 'running' : linked.status === 'resolved' ? 'finished' : linked.status === 'aborted' ? 'ignored' : 'error';
    return { status, message: `cmpha incident ${linked.id} is ${linked.status}`, incidentId: linked.id };
  }
  const h = round && round.startedAt > created ? round.hosts.find((x) => x.host === n.hostname) : undefined;
  if (h && (h.verdict === 'healthy' || h.verdict === 'maintenance')) return { status: 'ignored', message: `cmpha probed ${n.hostname} after the notification and found it ${h.verdict}`, incidentId: null };
  return { status: 'new', message: h ? `cmpha is probing ${n.hostname}: ${h.verdict}` : `cmpha probes ${n.hostname} now`, incidentId: null };
}

/** Masakari's notification object (as its API answers it), plus cmpha's hostname, created_by and incident_id. */
function notificationView(n: StoredNotification, incidents: readonly IncidentRecord[], round: RoundReport | null): Record<string, unknown> {
  const s = notificationStatus(n, incidents, round);
  return {
    id: n.id, notification_uuid: n.notification_uuid, type: n.type, hostname: n.hostname, generated_time: n.generated_time, payload: n.payload,
    status: s.status, message: s.message, source_host_uuid: n.source_host_uuid, failover_segment_uuid: n.failover_segment_uuid,
    created_at: n.created_at, updated_at: null, deleted: false, deleted_at: null, created_by: n.created_by, incident_id: s.incidentId,
  };
}

/** What every group of resources reads from. */
interface ResourceContext {
  readonly deps: ApiDeps;
  readonly store: IncidentStore;
  /** The detector's last round, or null before the first one. */
  readonly round: () => RoundReport | null;
}

/** `limit` from the query, `fallback` when absent; 400 unless a whole number 1..1000. */
function limitOf(q: URLSearchParams, fallback: number): number {
  const limit = q.has('limit') ? Number(q.get('limit')) : fallback;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new ApiError(400, 'bad_limit', `limit must be a whole number 1..1000 (got "${q.get('limit')}")`);
  return limit;
}

function incidentResources({ deps, store }: ResourceContext): Pick<Resources, 'listIncidents' | 'showIncident' | 'ackIncident'> {
  return {
    async listIncidents(q) {
      const limit = limitOf(q, 50);
      const status = q.get('status');
      if (status !== null && status !== 'open' && status !== 'closed') throw new ApiError(400, 'bad_status', `status must be open or closed (got "${status}")`);
      let list = await store.list({ limit });
      if (status === 'open') list = list.filter((r) => !isTerminalStatus(r.status));
      if (status === 'closed') list = list.filter((r) => isTerminalStatus(r.status));
      return isoTimes({ incidents: list });
    },

    async showIncident(id) {
      const inc = await store.get(id);
      if (!inc) throw new ApiError(404, 'incident_not_found', `no incident with id ${id}`);
      return isoTimes({ incident: inc });
    },

    async ackIncident(id, body, caller) {
      const by = body && typeof body === 'object' && typeof (body as { by?: unknown }).by === 'string' ? (body as { by: string }).by.trim().slice(0, 100) : '';
      const rec = await store.getRecord(id);
      if (!rec) throw new ApiError(404, 'incident_not_found', `no incident with id ${id}`);
      const who = by ? `${by} (API token ${caller.name})` : `API token ${caller.name}`;
      await acknowledge(deps.redis, deps.prefix, id, who);
      const already = rec.ack !== undefined;
      if (!already) await store.ack(id, who);
      deps.logger.info({ incident: id, token: caller.name, by: by || undefined }, 'incident acknowledged through the API');
      return isoTimes({ incident: await store.getRecord(id), alreadyAcknowledged: already });
    },
  };
}

function hostResources({ deps, store, round }: ResourceContext): Pick<Resources, 'listHosts' | 'showHost' | 'confirmFence'> {
  /** Open incidents by host. */
  const openIncidents = async () => {
    const records = await Promise.all((await store.activeIds()).map((id) => store.getRecord(id)));
    return new Map(records.filter((x): x is IncidentRecord => x !== null && !isTerminalStatus(x.status)).map((x) => [x.host, x]));
  };
  const requireRound = () => {
    const r = round();
    if (!r) throw new ApiError(503, 'no_round_yet', 'the detector has not finished its first round yet; try again in a few seconds');
    return r;
  };
  return {
    async listHosts() {
      const r = requireRound();
      const open = await openIncidents();
      const latest = new Map<string, IncidentRecord>();
      for (const i of await store.list({ limit: 200 })) if (!latest.has(i.host)) latest.set(i.host, i);
      return isoTimes({ round: roundView(r), stormBrake: r.stormBrake, hosts: r.hosts.map((h) => hostView(h, deps.hosts, open.get(h.host) ?? null, latest.get(h.host) ?? null)) });
    },

    async showHost(name) {
      const r = requireRound();
      const h = r.hosts.find((x) => x.host === name);
      if (!h) throw new ApiError(404, 'host_not_found', `the detector's last round has no host ${name}`);
      const id = await store.openIncidentFor(name);
      const latest = (await store.list({ limit: 200 })).find((i) => i.host === name) ?? null;
      return isoTimes({ round: roundView(r), host: hostView(h, deps.hosts, id ? await store.getRecord(id) : null, latest) });
    },

    async confirmFence(host, body, caller) {
      if (!deps.fence) throw new ApiError(501, 'fence_confirm_unavailable', 'this process cannot confirm fences');
      const b = (body && typeof body === 'object' ? body : {}) as { confirm?: unknown; note?: unknown; by?: unknown };
      // The same deliberate step as `cmpha fence confirm --yes`: evacuating a running host corrupts shared disks.
      if (b.confirm !== true) throw new ApiError(400, 'confirm_required', `send {"confirm": true, "note": "what you checked"} once you made sure ${host} is powered off (or cut from its disks)`);
      const note = typeof b.note === 'string' ? b.note.trim().slice(0, 500) : '';
      const by = typeof b.by === 'string' ? b.by.trim().slice(0, 100) : '';
      const user = by ? `${by} (API token ${caller.name})` : `API token ${caller.name}`;
      try {
        const rec = await deps.fence.confirm(host, { user, note });
        deps.logger.warn({ host, incident: rec.id, token: caller.name }, 'fence confirmed through the API');
        return isoTimes({ incident: rec });
      } catch (err) {
        if (err instanceof CmphaError && err.code === 'no_fence_awaited') throw new ApiError(409, err.code, err.message);
        throw err;
      }
    },
  };
}

function stormBrakeResources({ deps, store, round }: ResourceContext): Pick<Resources, 'stormBrake' | 'resume'> {
  return {
    async stormBrake() {
      const state = await new StormBrakeStore(deps.redis, deps.prefix).load();
      const r = round();
      return isoTimes({ active: state.active, since: state.since, reason: state.reason, resumedHosts: state.resumedHosts, lastRound: r ? r.stormBrake : null });
    },

    async resume(caller) {
      const r = await resume(deps.redis, deps.prefix);
      deps.logger.warn({ token: caller.name, brakeActive: r.brakeActive }, 'storm-brake resume requested through the API');
      // Resume lets held-back hosts through; each incident it leads to is opened by the controller with that reason.
      for (const id of await store.activeIds()) {
        await store.addTimeline(id, { step: 'api', level: 'warning', message: `storm-brake resume requested by API token ${caller.name}` });
      }
      return isoTimes({ brakeActive: r.brakeActive, reason: r.reason, since: r.since, resumeRequested: true, requestedBy: caller.name });
    },
  };
}

/** The request's scope, reason and until; a bad one is a 400 naming the field. */
function haRequest(body: unknown, now: number): { scope: DisarmScope; reason: string; until: number | null; by: string } {
  const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  try {
    const reason = typeof b.reason === 'string' ? b.reason : '';
    const until = b.until === undefined || b.until === null ? null : parseUntil(String(b.until), now);
    const by = typeof b.by === 'string' ? b.by.trim().slice(0, 100) : '';
    return { scope: scopeOf(b), reason, until, by };
  } catch (err) {
    if (err instanceof CmphaError) throw new ApiError(400, err.code, err.message);
    throw err;
  }
}

/** Disarm and arm (`cmpha ha`): the same functions as the CLI, the caller's token recorded as who. */
function haResources({ deps, round }: ResourceContext): Pick<Resources, 'haStatus' | 'haDisarm' | 'haArm'> {
  const clock = deps.clock ?? systemClock;
  const limit = deps.disarmLimitMs ?? Number.POSITIVE_INFINITY;
  // The zones of the last round's hosts: a zone disarm then waits only for incidents in that zone.
  const placeOf = (host: string): HostPlace => ({ host, zone: round()?.hosts.find((h) => h.host === host)?.zone ?? null, groups: null });
  const views = async () => (await disarmViews(deps.redis, deps.prefix, clock.now(), limit, round() ? placeOf : undefined)).map((v) => isoTimes({ ...v }));
  return {
    async haStatus(q) {
      const audit = await disarmAudit(deps.redis, deps.prefix, limitOf(q, 20));
      return { disarmed: await views(), controllerView: round()?.disarms?.map((v) => isoTimes({ ...v })) ?? null, audit: audit.map((a) => isoTimes({ ...a })) };
    },

    async haDisarm(body, caller) {
      const now = clock.now();
      const r = haRequest(body, now);
      if (r.reason.trim() === '') throw new ApiError(400, 'reason_required', 'send {"reason": "why"}: a disarm is shown to everyone and kept in the audit list');
      const who = r.by ? `${r.by} (API token ${caller.name})` : `API token ${caller.name}`;
      const res = await disarm(deps.redis, deps.prefix, { scope: r.scope, reason: r.reason, by: who, until: r.until, now }, limit);
      deps.logger.warn({ scope: res.view.key, token: caller.name, state: res.view.state }, 'HA disarmed through the API');
      return { disarm: isoTimes({ ...res.view }), message: describeDisarm(res.view), replaced: res.replaced !== null };
    },

    async haArm(body, caller) {
      const now = clock.now();
      const r = haRequest(body, now);
      const who = r.by ? `${r.by} (API token ${caller.name})` : `API token ${caller.name}`;
      try {
        const armed = await arm(deps.redis, deps.prefix, { scope: r.scope, by: who, reason: r.reason, now });
        deps.logger.warn({ scope: armed.map((e) => scopeKey(e.scope)), token: caller.name }, 'HA armed through the API');
        return { armed: armed.map((e) => scopeKey(e.scope)) };
      } catch (err) {
        if (err instanceof CmphaError && err.code === 'not_disarmed') throw new ApiError(409, err.code, err.message);
        throw err;
      }
    },
  };
}

/** Masakari's notification API: a host reported down asks the detector to probe it now. */
function notificationResources({ deps, store, round }: ResourceContext): Pick<Resources, 'createNotification' | 'listNotifications' | 'showNotification'> {
  const clock = deps.clock ?? systemClock;
  const notifications = new NotificationStore(deps.redis, deps.prefix);
  const segments = new SegmentStore(deps.redis, deps.prefix, deps.segments ?? [], { logger: deps.logger });
  return {
    async createNotification(body, caller) {
      const n = validateNotification(body);
      const r = round();
      const host = r?.hosts.find((h) => h.host === n.hostname);
      if (r && !host) throw new ApiError(400, 'host_not_found', `Host with name ${n.hostname} could not be found.`);
      if (host?.verdict === 'maintenance' || (await segments.maintenance()).has(n.hostname)) {
        throw new ApiError(409, 'host_on_maintenance', `Notification received from host ${n.hostname} of type '${n.type}' is ignored as the host is already under maintenance.`);
      }
      const segment = segmentOf(allSegments({ configured: deps.segments ?? [], stored: await segments.list(), watched: r?.hosts.map((h) => h.host) ?? [], spares: deps.spareHosts ?? [], startedAt: 0 }), n.hostname);
      const open = await store.openIncidentFor(n.hostname);
      const res = await notifications.create(n, {
        by: caller.name, now: clock.now(), windowMs: deps.config.notificationDuplicateWindowMs, ...(open ? { incidentId: open } : {}), ...(segment ? { segmentUuid: segment.uuid } : {}),
      });
      if (!res.created) throw new ApiError(409, 'duplicate_notification', `Notification received from host ${n.hostname} of type ${n.type} is duplicate.`);
      const uuid = res.notification.notification_uuid;
      deps.logger.info({ host: n.hostname, type: n.type, event: n.payload.event, token: caller.name, uuid }, 'Masakari notification received');
      if (n.type === 'COMPUTE_HOST') {
        if (open) await store.addTimeline(open, { step: 'api', level: 'info', message: `Masakari notification ${uuid} (${n.payload.event}) from API token ${caller.name}` });
        if (n.payload.event === 'STOPPED') deps.probe.requestProbe(n.hostname, `Masakari notification ${uuid} from token ${caller.name}`);
      } else if (segment && !segment.enabled) {
        await notifications.setOutcome(uuid, { status: 'ignored', message: `segment ${segment.name} is disabled` });
      } else if (deps.masakari) {
        await deps.masakari.submit(uuid);
      } else {
        await notifications.setOutcome(uuid, { status: 'ignored', message: `this cmpha acts on no ${n.type} notifications (recorded only)` });
      }
      return { notification: notificationView((await notifications.get(uuid)) ?? res.notification, await store.list({ limit: 200 }), round()) };
    },

    async listNotifications(q) {
      const limit = limitOf(q, 100);
      const incidents = await store.list({ limit: 200 });
      let list = (await notifications.list(limit)).map((n) => notificationView(n, incidents, round()));
      for (const key of ['status', 'type'] as const) {
        const want = q.get(key);
        if (want !== null) list = list.filter((n) => n[key] === want);
      }
      const since = q.get('generated-since');
      if (since !== null) {
        const t = Date.parse(since);
        if (Number.isNaN(t)) throw new ApiError(400, 'bad_generated_since', 'Invalid generated-since value');
        list = list.filter((n) => String(n.generated_time) >= masakariTime(t));
      }
      return { notifications: list };
    },

    async showNotification(uuid) {
      const n = await notifications.get(uuid);
      if (!n) throw new ApiError(404, 'notification_not_found', `No notification with id ${uuid}.`);
      return { notification: { ...notificationView(n, await store.list({ limit: 200 }), round()), recovery_workflow_details: [] } };
    },
  };
}

export function createResources(deps: ApiDeps): Resources {
  const ctx: ResourceContext = { deps, store: new IncidentStore(deps.redis, deps.prefix), round: () => deps.lastRound() };
  return { ...incidentResources(ctx), ...hostResources(ctx), ...stormBrakeResources(ctx), ...haResources(ctx), ...notificationResources(ctx) };
}
