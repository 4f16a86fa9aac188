import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ApiError } from './api-error.js';
import { hostUuid, IMPLICIT_SEGMENT_UUID, masakariTime } from './masakari-segments.js';

export { hostUuid, masakariTime } from './masakari-segments.js';

// Masakari's notification intake (POST /v1/notifications) as masakari-monitors and `openstack notification
// create` speak it. cmpha takes a COMPUTE_HOST notification as evidence, never as proof: it makes the detector
// probe that host at once; the host is still confirmed dead and fenced by cmpha's own rules. A PROCESS
// notification (the process monitor could not restart nova-compute) goes to the agent-down remediation; a VM
// notification (the instance monitor saw a guest fail) to the instance-failure recovery (src/masakari).

export const NOTIFICATION_TYPES = ['COMPUTE_HOST', 'VM', 'PROCESS'] as const;
const EVENTS = ['STARTED', 'STOPPED'];
const HOST_STATUS = ['NORMAL', 'UNKNOWN'];
const CLUSTER_STATUS = ['ONLINE', 'OFFLINE'];
/** Masakari's parameter_types.hostname. */
const HOSTNAME = /^[a-zA-Z0-9-._]{1,255}$/;

export type NotificationStatus = 'new' | 'running' | 'error' | 'failed' | 'ignored' | 'finished';

export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

/** What cmpha did about a PROCESS or VM notification (a COMPUTE_HOST one is read from its incident). */
export interface NotificationOutcome {
  readonly status: NotificationStatus;
  readonly message: string;
  /** The VM failure record or host incident it led to. */
  readonly recordId?: string;
}

/** What is stored: strings only (Redis' Lua JSON would round large numbers), times as ISO-8601. */
export interface StoredNotification {
  readonly id: number;
  readonly notification_uuid: string;
  readonly type: NotificationType;
  readonly hostname: string;
  readonly generated_time: string;
  readonly payload: Readonly<Record<string, string>>;
  readonly source_host_uuid: string;
  readonly failover_segment_uuid: string;
  readonly created_at: string;
  /** The API token that sent it. */
  readonly created_by: string;
  /** The host's open incident when the notification came in, if any. */
  readonly incident_id?: string;
  readonly sig: string;
  readonly outcome?: NotificationOutcome;
}

export type ValidNotification =
  | { readonly type: 'COMPUTE_HOST'; readonly hostname: string; readonly generatedAt: number; readonly payload: { readonly event: string; readonly host_status?: string; readonly cluster_status?: string } }
  | { readonly type: 'PROCESS'; readonly hostname: string; readonly generatedAt: number; readonly payload: { readonly event: string; readonly process_name: string } }
  | { readonly type: 'VM'; readonly hostname: string; readonly generatedAt: number; readonly payload: { readonly event: string; readonly instance_uuid: string; readonly vir_domain_event: string } };

/** Masakari's payload values: strings of at most 255 characters. */
function payloadText(p: Record<string, unknown>, key: string): string {
  const v = p[key];
  if (!(key in p)) throw bad(`Invalid input for field/attribute payload. '${key}' is a required property`);
  if (typeof v !== 'string' || v.length === 0 || v.length > 255) throw bad(`Invalid input for field/attribute ${key}. Value: ${JSON.stringify(v)}. It must be a string of 1-255 characters`);
  return v;
}

const bad = (message: string) => new ApiError(400, 'invalid_notification', message);

function onlyKeys(obj: Record<string, unknown>, allowed: readonly string[], where: string): void {
  const extra = Object.keys(obj).filter((k) => !allowed.includes(k));
  if (extra.length > 0) throw bad(`Invalid input for field/attribute ${where}. Additional properties are not allowed (${extra.map((k) => `'${k}'`).join(', ')} ${extra.length > 1 ? 'were' : 'was'} unexpected)`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Masakari accepts `2017-04-24 08:34:46` and ISO-8601 with a T, a fraction and a zone; no zone is UTC. */
export function parseGeneratedTime(text: string): number | undefined {
  const m = /^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(\.\d{1,9})?(Z|[+-]\d\d:?\d\d)?$/.exec(text.trim());
  if (!m) return undefined;
  const zone = m[4] === undefined ? 'Z' : m[4].length === 5 ? `${m[4].slice(0, 3)}:${m[4].slice(3)}` : m[4];
  const ms = Date.parse(`${m[1]}T${m[2]}${(m[3] ?? '').slice(0, 4)}${zone}`);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Masakari's request schema for a notification, with its wording, and each type's payload as its monitor sends it. */
export function validateNotification(body: unknown): ValidNotification {
  if (!isObject(body)) throw bad('Invalid input: the body must be a JSON object {"notification": {...}}');
  onlyKeys(body, ['notification'], 'root');
  const n = body.notification;
  if (!isObject(n)) throw bad("Invalid input for field/attribute notification. 'notification' is a required property and must be an object");
  onlyKeys(n, ['type', 'hostname', 'generated_time', 'payload'], 'notification');
  for (const k of ['type', 'hostname', 'generated_time', 'payload']) if (!(k in n)) throw bad(`Invalid input for field/attribute notification. '${k}' is a required property`);
  if (typeof n.type !== 'string' || !(NOTIFICATION_TYPES as readonly string[]).includes(n.type)) {
    throw bad(`Invalid input for field/attribute type. Value: ${JSON.stringify(n.type)}. It is not one of ${NOTIFICATION_TYPES.join(', ')}`);
  }
  if (typeof n.hostname !== 'string' || !HOSTNAME.test(n.hostname)) throw bad(`Invalid input for field/attribute hostname. Value: ${JSON.stringify(n.hostname)}. It must be 1-255 letters, digits, '-', '.' or '_'`);
  const generatedAt = typeof n.generated_time === 'string' ? parseGeneratedTime(n.generated_time) : undefined;
  if (generatedAt === undefined) throw bad(`Invalid input for field/attribute generated_time. Value: ${JSON.stringify(n.generated_time)}. It is not a 'date-time'`);
  const p = n.payload;
  if (!isObject(p)) throw bad('Invalid input for field/attribute payload. It must be an object');
  if (n.type === 'PROCESS') {
    onlyKeys(p, ['event', 'process_name'], 'payload');
    const event = payloadText(p, 'event');
    if (!EVENTS.includes(event.toUpperCase())) throw bad(`Invalid input for field/attribute event. Value: ${JSON.stringify(event)}. It is not one of ${EVENTS.join(', ')}`);
    return { type: 'PROCESS', hostname: n.hostname, generatedAt, payload: { event, process_name: payloadText(p, 'process_name') } };
  }
  if (n.type === 'VM') {
    onlyKeys(p, ['event', 'instance_uuid', 'vir_domain_event'], 'payload');
    return { type: 'VM', hostname: n.hostname, generatedAt, payload: { event: payloadText(p, 'event'), instance_uuid: payloadText(p, 'instance_uuid'), vir_domain_event: payloadText(p, 'vir_domain_event') } };
  }
  onlyKeys(p, ['event', 'host_status', 'cluster_status'], 'payload');
  const check = (key: string, allowed: readonly string[], required: boolean) => {
    if (!(key in p)) {
      if (required) throw bad(`Invalid input for field/attribute payload. '${key}' is a required property`);
      return;
    }
    if (typeof p[key] !== 'string' || !allowed.includes(p[key])) throw bad(`Invalid input for field/attribute ${key}. Value: ${JSON.stringify(p[key])}. It is not one of ${allowed.join(', ')}`);
  };
  check('event', EVENTS, true);
  check('host_status', HOST_STATUS, false);
  check('cluster_status', CLUSTER_STATUS, false);
  const payload = {
    event: p.event as string,
    ...(typeof p.host_status === 'string' ? { host_status: p.host_status } : {}),
    ...(typeof p.cluster_status === 'string' ? { cluster_status: p.cluster_status } : {}),
  };
  return { type: 'COMPUTE_HOST', hostname: n.hostname, generatedAt, payload };
}

// Duplicate detection and insert in one step (two monitors may report the same host at once): a notification
// of the same type and payload for the same host, generated within the window before (or any time after) this
// one's generated_time, is a duplicate, as Masakari's duplicate_notification_detection_interval.
const INSERT = `
local from = tonumber(ARGV[2]) - tonumber(ARGV[3])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], from, '+inf')
for _, id in ipairs(ids) do
  local raw = redis.call('GET', ARGV[6] .. id)
  if raw then
    local rec = cjson.decode(raw)
    if rec.sig == ARGV[1] then return {0, id} end
  end
end
local n = redis.call('INCR', KEYS[3])
local rec = cjson.decode(ARGV[5])
rec.id = n
redis.call('SET', ARGV[6] .. ARGV[4], cjson.encode(rec), 'PX', ARGV[8])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[7], ARGV[4])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -1001)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[7]) - tonumber(ARGV[8]))
return {1, ARGV[4]}
`;

const RETENTION_MS = 30 * 24 * 3600_000;

const SET_OUTCOME = `
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local rec = cjson.decode(raw)
rec.outcome = cjson.decode(ARGV[1])
redis.call('SET', KEYS[1], cjson.encode(rec), 'KEEPTTL')
return 1
`;

export class NotificationStore {
  private readonly k: { record: string; index: string; seq: string; host: (h: string) => string };

  constructor(private readonly redis: Redis, prefix: string) {
    this.k = { record: `${prefix}:masakari:n:`, index: `${prefix}:masakari:index`, seq: `${prefix}:masakari:seq`, host: (h) => `${prefix}:masakari:host:${h}` };
  }

  /** Stores it unless it is a duplicate; returns the stored notification (or the one it duplicates). */
  async create(n: ValidNotification, meta: { by: string; now: number; windowMs: number; incidentId?: string; segmentUuid?: string }): Promise<{ created: boolean; notification: StoredNotification }> {
    const sig = `${n.type}\n${n.hostname}\n${JSON.stringify(Object.entries(n.payload).sort(([a], [b]) => a.localeCompare(b)))}`;
    const uuid = randomUUID();
    const record: Omit<StoredNotification, 'id'> = {
      notification_uuid: uuid, type: n.type, hostname: n.hostname, generated_time: masakariTime(n.generatedAt), payload: n.payload,
      source_host_uuid: hostUuid(n.hostname), failover_segment_uuid: meta.segmentUuid ?? IMPLICIT_SEGMENT_UUID, created_at: masakariTime(meta.now), created_by: meta.by,
      ...(meta.incidentId ? { incident_id: meta.incidentId } : {}), sig,
    };
    const r = (await this.redis.eval(INSERT, 3, this.k.host(n.hostname), this.k.index, this.k.seq,
      sig, String(n.generatedAt), String(meta.windowMs), uuid, JSON.stringify(record), this.k.record, String(meta.now), String(RETENTION_MS))) as [number, string];
    const stored = await this.get(r[1]);
    if (!stored) throw new ApiError(503, 'notification_lost', `notification ${r[1]} vanished from Redis`);
    return { created: r[0] === 1, notification: stored };
  }

  /** Records what was done about it, keeping its expiry. */
  async setOutcome(uuid: string, outcome: NotificationOutcome): Promise<void> {
    await this.redis.eval(SET_OUTCOME, 1, this.k.record + uuid, JSON.stringify(outcome));
  }

  async get(uuid: string): Promise<StoredNotification | null> {
    const raw = await this.redis.get(this.k.record + uuid);
    return raw === null ? null : (JSON.parse(raw) as StoredNotification);
  }

  /** Newest first. */
  async list(limit = 100): Promise<StoredNotification[]> {
    const ids = await this.redis.zrevrange(this.k.index, 0, limit - 1);
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(ids.map((id) => this.k.record + id));
    return raws.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as StoredNotification);
  }
}
