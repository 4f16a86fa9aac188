import { unsupportedRecoveryMethod } from '../config/masakari-schema.js';
import type { SegmentConfig } from '../config/types.js';
import { stableUuid, type StoredSegment } from '../masakari/segments.js';
import { ApiError } from './api-error.js';

// Masakari's failover segments and hosts (/v1/segments, /v1/segments/{id}/hosts) as the API shows and checks
// them. They are kept in Redis, seeded from cmpha.conf's [segment:NAME] (src/masakari/segments.ts says why), and
// what the API changes there is what the recovery reads (src/masakari/segment-policy.ts). Without any segment,
// one implicit, read-only segment `cmpha` holds every host the detector watches.

/** A host's Masakari UUID: the same whichever segment shows it. */
export const hostUuid = (name: string): string => stableUuid(`cmpha-host:${name}`);
/** The implicit segment when cmpha.conf declares none (its UUID predates named segments). */
export const IMPLICIT_SEGMENT = 'cmpha';
export const IMPLICIT_SEGMENT_UUID = hostUuid('(cmpha segment)');

/** Masakari prints naive UTC times with microseconds. */
export function masakariTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 23)}000`;
}

/** A segment as cmpha knows it, wherever it is declared. */
export interface Segment {
  readonly uuid: string;
  readonly id: number;
  readonly name: string;
  readonly description: string | null;
  readonly recoveryMethod: string;
  readonly serviceType: string;
  readonly enabled: boolean;
  readonly source: 'config' | 'implicit' | 'api';
  readonly stored: StoredSegment | null;
  readonly hosts: readonly string[];
  readonly reserved: readonly string[];
  readonly createdAt: number;
  readonly updatedAt: number | null;
}

const bad = (message: string) => new ApiError(400, 'invalid_segment', message);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const TRUE = ['true', '1', 'on', 'yes'];
const FALSE = ['false', '0', 'off', 'no'];
/** Masakari's parameter_types.boolean: true/false or their usual spellings. */
export function masakariBool(v: unknown, field: string): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && TRUE.includes(v.toLowerCase())) return true;
  if (typeof v === 'string' && FALSE.includes(v.toLowerCase())) return false;
  throw bad(`Invalid input for field/attribute ${field}. Value: ${JSON.stringify(v)}. ${JSON.stringify(v)} is not a valid boolean`);
}

function onlyKeys(obj: Record<string, unknown>, allowed: readonly string[], where: string): void {
  const extra = Object.keys(obj).filter((k) => !allowed.includes(k));
  if (extra.length > 0) throw bad(`Invalid input for field/attribute ${where}. Additional properties are not allowed (${extra.map((k) => `'${k}'`).join(', ')} ${extra.length > 1 ? 'were' : 'was'} unexpected)`);
}

function nameField(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.trim().length === 0 || v.length > 255) throw bad(`Invalid input for field/attribute ${field}. Value: ${JSON.stringify(v)}. It must be a string of 1-255 characters`);
  return v.trim();
}

/** The body of POST or PUT /v1/segments, checked as Masakari's schema does; unsupported methods say why. */
export function validateSegmentBody(body: unknown, mode: 'create' | 'update'): Partial<Pick<StoredSegment, 'name' | 'description' | 'recovery_method' | 'service_type' | 'enabled'>> {
  if (!isObject(body)) throw bad('Invalid input: the body must be a JSON object {"segment": {...}}');
  onlyKeys(body, ['segment'], 'root');
  const s = body.segment;
  if (!isObject(s)) throw bad("Invalid input for field/attribute segment. 'segment' is a required property and must be an object");
  onlyKeys(s, ['name', 'description', 'recovery_method', 'service_type', 'enabled'], 'segment');
  if (mode === 'create') for (const k of ['name', 'recovery_method', 'service_type']) if (!(k in s)) throw bad(`Invalid input for field/attribute segment. '${k}' is a required property`);
  if (mode === 'update' && Object.keys(s).length === 0) throw bad('Invalid input for field/attribute segment. Give at least one of name, description, recovery_method, service_type, enabled');
  const out: Record<string, unknown> = {};
  if ('name' in s) out.name = nameField(s.name, 'name');
  if ('service_type' in s) out.service_type = nameField(s.service_type, 'service_type');
  if ('description' in s) {
    if (s.description !== null && typeof s.description !== 'string') throw bad('Invalid input for field/attribute description. It must be a string or null');
    out.description = s.description;
  }
  if ('recovery_method' in s) {
    if (typeof s.recovery_method !== 'string' || !['auto', 'reserved_host', 'auto_priority', 'rh_priority'].includes(s.recovery_method)) {
      throw bad(`Invalid input for field/attribute recovery_method. Value: ${JSON.stringify(s.recovery_method)}. It is not one of auto, reserved_host, auto_priority, rh_priority`);
    }
    const why = unsupportedRecoveryMethod(s.recovery_method);
    if (why) throw new ApiError(400, 'unsupported_recovery_method', why);
    out.recovery_method = s.recovery_method;
  }
  if ('enabled' in s) out.enabled = masakariBool(s.enabled, 'enabled');
  return out;
}

export interface HostUpdate {
  readonly onMaintenance?: boolean;
  readonly reserved?: boolean;
  readonly name?: string;
  readonly type?: string | null;
  readonly controlAttributes?: string | null;
}

/** The body of POST /v1/segments/{id}/hosts or PUT /v1/segments/{id}/hosts/{id}, as Masakari's schema. */
export function validateHostBody(body: unknown, mode: 'create' | 'update' = 'update'): HostUpdate {
  if (!isObject(body)) throw bad('Invalid input: the body must be a JSON object {"host": {...}}');
  onlyKeys(body, ['host'], 'root');
  const h = body.host;
  if (!isObject(h)) throw bad("Invalid input for field/attribute host. 'host' is a required property and must be an object");
  onlyKeys(h, ['name', 'type', 'control_attributes', 'reserved', 'on_maintenance'], 'host');
  if (mode === 'create') for (const k of ['name', 'type', 'control_attributes']) if (!(k in h)) throw bad(`Invalid input for field/attribute host. '${k}' is a required property`);
  if (Object.keys(h).length === 0) throw bad('Invalid input for field/attribute host. Give at least one of name, type, control_attributes, reserved, on_maintenance');
  return {
    ...('on_maintenance' in h ? { onMaintenance: masakariBool(h.on_maintenance, 'on_maintenance') } : {}),
    ...('reserved' in h ? { reserved: masakariBool(h.reserved, 'reserved') } : {}),
    ...('name' in h ? { name: nameField(h.name, 'name') } : {}),
    ...('type' in h ? { type: h.type === null ? null : String(h.type) } : {}),
    ...('control_attributes' in h ? { controlAttributes: h.control_attributes === null ? null : String(h.control_attributes) } : {}),
  };
}

/**
 * Every segment: those Redis holds (seeded from the file, then changed through the API) in id order. When the file
 * declares none, first one implicit segment of the watched hosts no stored segment holds, with [evacuation]
 * spare_hosts as its reserved hosts.
 */
export function allSegments(opts: {
  readonly configured: readonly SegmentConfig[];
  readonly stored: readonly StoredSegment[];
  /** Every host the detector watches (the implicit segment's hosts). */
  readonly watched: readonly string[];
  readonly spares: readonly string[];
  readonly startedAt: number;
}): Segment[] {
  const held = new Set(opts.stored.flatMap((s) => s.hosts));
  const free = opts.watched.filter((h) => !held.has(h));
  const implicit: Segment[] = opts.configured.length === 0
    ? [{
      uuid: IMPLICIT_SEGMENT_UUID, id: 1, name: IMPLICIT_SEGMENT, description: 'every host cmpha watches (cmpha.conf declares no [segment:NAME])',
      recoveryMethod: 'rh_priority', serviceType: 'COMPUTE', enabled: true, source: 'implicit', stored: null, hosts: free,
      reserved: opts.spares.filter((h) => free.includes(h)), createdAt: opts.startedAt, updatedAt: null,
    }]
    : [];
  const stored: Segment[] = opts.stored.map((s) => ({
    uuid: s.uuid, id: s.id, name: s.name, description: s.description, recoveryMethod: s.recovery_method, serviceType: s.service_type, enabled: s.enabled,
    source: s.from, stored: s, hosts: s.hosts, reserved: s.reserved, createdAt: s.created_at, updatedAt: s.updated_at,
  }));
  return [...implicit, ...stored];
}

/** The segment holding `host`, if any. */
export function segmentOf(segments: readonly Segment[], host: string): Segment | undefined {
  return segments.find((s) => s.hosts.includes(host));
}

/** A segment by UUID (as Masakari) or by name (as the client's name lookup would find it). */
export function findSegment(segments: readonly Segment[], id: string): Segment {
  const s = segments.find((x) => x.uuid === id) ?? segments.find((x) => x.name === id);
  if (!s) throw new ApiError(404, 'segment_not_found', `Failover segment with id ${id} could not be found.`);
  return s;
}

export function segmentView(s: Segment): Record<string, unknown> {
  return {
    uuid: s.uuid, id: s.id, name: s.name, description: s.description, recovery_method: s.recoveryMethod, service_type: s.serviceType, enabled: s.enabled,
    created_at: masakariTime(s.createdAt), updated_at: s.updatedAt === null ? null : masakariTime(s.updatedAt), deleted: false, deleted_at: null,
  };
}

export function hostView(s: Segment, host: string, opts: { onMaintenance: boolean; controlAttributes: string }): Record<string, unknown> {
  return {
    id: s.id * 1000 + s.hosts.indexOf(host) + 1, uuid: hostUuid(host), name: host, failover_segment_id: s.uuid, failover_segment: segmentView(s),
    type: 'COMPUTE', reserved: s.reserved.includes(host), control_attributes: opts.controlAttributes, on_maintenance: opts.onMaintenance,
    created_at: masakariTime(s.createdAt), updated_at: null, deleted: false, deleted_at: null,
  };
}

/** Why a segment may not be changed through the API: only the implicit one is not stored anywhere. */
export function notStored(s: Segment): string | null {
  if (s.source === 'implicit') return `segment ${s.name} is cmpha's implicit segment of every watched host; create segments (openstack segment create) or declare [segment:NAME] sections in cmpha.conf to shape them`;
  return null;
}
