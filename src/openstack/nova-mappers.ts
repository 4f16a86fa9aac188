import { z } from 'zod';
import { checkAnswer } from './answer-check.js';
import type { Aggregate, ComputeService, Hypervisor, Migration, Server, ServerAddress, ServerGroup } from './types.js';

// Nova JSON (field names as the API spells them at microversion 2.53 and later) → cmpha's typed objects.
// Raw bodies are untrusted: every field cmpha decides on is checked here, and a body that does not fit
// throws MalformedAnswer naming the field (the HTTP client makes it a retryable `nova_malformed_answer`).
// A host called 12345, a server without an id or a list that is not a list never get further than this.
// Fields cmpha only displays are read leniently.

/** A non-empty name or id. */
const name = z.string().min(1, 'must not be empty');
/** Nova's integer ids (migrations, aggregates, pre-2.53 services) and UUID strings alike, kept as text. */
const anyId = z.union([name, z.number().int()]).transform(String);
const timestamp = z.string().nullable().optional();
const count = z.number().finite().nonnegative();

const serviceSchema = z.object({
  id: anyId,
  binary: name,
  host: name,
  zone: z.string().nullable().optional(),
  state: z.enum(['up', 'down']),
  status: z.enum(['enabled', 'disabled']),
  // Always present from 2.11; cmpha speaks at least 2.53.
  forced_down: z.boolean(),
  disabled_reason: z.string().nullable().optional(),
  updated_at: timestamp,
});

const addressSchema = z.object({
  addr: z.string(),
  version: z.union([z.literal(4), z.literal(6)]).optional(),
  'OS-EXT-IPS:type': z.string().optional(),
});

const serverSchema = z.object({
  id: name,
  name: z.string(),
  status: name,
  'OS-EXT-STS:task_state': z.string().nullable(),
  'OS-EXT-STS:vm_state': z.string().nullable().optional(),
  // Shown to admins (cmpha always is one); null while the server has no host.
  'OS-EXT-SRV-ATTR:host': name.nullable(),
  'OS-EXT-AZ:availability_zone': z.string().nullable().optional(),
  addresses: z.record(z.string(), z.array(addressSchema)).optional(),
  metadata: z.record(z.string(), z.string()).optional(),
  user_id: z.string(),
  tenant_id: z.string().optional(),
  project_id: z.string().optional(),
  flavor: z.object({
    vcpus: count.optional(), ram: count.optional(), original_name: z.string().optional(), id: z.string().optional(),
    // Embedded from 2.47, shown when the policy lets the caller see them (an admin does).
    extra_specs: z.record(z.string(), z.unknown()).optional(),
  }).optional(),
  updated: z.string().optional(),
  image: z.union([z.literal(''), z.object({ id: z.string() }), z.null()]).optional(),
  'os-extended-volumes:volumes_attached': z.array(z.object({ id: name })).optional(),
  // From 2.9 and 2.73.
  locked: z.boolean().optional(),
  locked_reason: z.string().nullable().optional(),
});

// GET /servers/{id}/os-volume_attachments: `id` goes and `attachment_id` comes with 2.89.
const volumeAttachmentSchema = z.object({
  volumeId: name,
  device: z.string().nullable().optional(),
  attachment_id: z.string().nullable().optional(),
});

// Nova's own Migration object allows a null instance_uuid and status (old records); a null status reads as
// not terminal, so such a record holds an evacuation back rather than letting a second one through.
const migrationSchema = z.object({
  id: anyId,
  uuid: z.string().optional(),
  instance_uuid: z.string().nullable(),
  migration_type: name,
  status: z.string().nullable(),
  source_compute: z.string().nullable(),
  dest_compute: z.string().nullable(),
  created_at: timestamp,
  updated_at: timestamp,
});

const hypervisorSchema = z.object({
  id: anyId,
  hypervisor_hostname: name,
  service: z.object({ host: name }).optional(),
  host_ip: z.string().nullable().optional(),
  state: z.enum(['up', 'down']),
  status: z.enum(['enabled', 'disabled']),
  vcpus: count.optional(),
  vcpus_used: count.optional(),
  memory_mb: count.optional(),
  memory_mb_used: count.optional(),
  // An object from 2.28 (a JSON string before); its topology's `cells` are the host's NUMA nodes (libvirt).
  cpu_info: z.unknown().optional(),
});

/** NUMA cells in a hypervisor's cpu_info topology; undefined when it does not say (the fake driver, 2.88+). */
function numaCellsOf(cpuInfo: unknown): number | undefined {
  let info = cpuInfo;
  if (typeof info === 'string') {
    try { info = JSON.parse(info); } catch { return undefined; }
  }
  const cells = (info as { topology?: { cells?: unknown } } | null)?.topology?.cells;
  return typeof cells === 'number' && Number.isInteger(cells) && cells > 0 ? cells : undefined;
}

const aggregateSchema = z.object({
  id: anyId,
  name: z.string(),
  hosts: z.array(name).nullable().optional(),
  availability_zone: z.string().nullable().optional(),
  metadata: z.record(z.string(), z.unknown()).nullable().optional(),
});

// 2.64+: one `policy` and `rules`; before, a `policies` list (of one) and no rules.
const serverGroupSchema = z.object({
  id: name,
  name: z.string(),
  policy: z.string().optional(),
  policies: z.array(z.string()).optional(),
  rules: z.object({ max_server_per_host: z.union([z.number().int().positive(), z.string().regex(/^\d+$/)]).optional() }).passthrough().nullable().optional(),
  members: z.array(z.string()),
  project_id: z.string().optional(),
});

const links = z.array(z.object({ rel: z.string().optional(), href: z.string().optional() })).optional();

/** One page of a Nova collection: `{KEY: [...], KEY_links: [...]}`. The list must be there and be a list. */
function page<S extends z.ZodType>(key: string, item: S) {
  return z.object({ [key]: z.array(item), [`${key}_links`]: links });
}

// Built once: a schema is an object graph, and a detector round reads several answers.
const bodies = {
  services: page('services', serviceSchema),
  service: z.object({ service: serviceSchema }),
  servers: page('servers', serverSchema),
  server: z.object({ server: serverSchema }),
  migrations: page('migrations', migrationSchema),
  hypervisors: page('hypervisors', hypervisorSchema),
  aggregates: z.object({ aggregates: z.array(aggregateSchema) }),
  serverGroups: page('server_groups', serverGroupSchema),
  volumeAttachments: z.object({ volumeAttachments: z.array(volumeAttachmentSchema) }),
};

type ServiceJson = z.output<typeof serviceSchema>;
type ServerJson = z.output<typeof serverSchema>;
type MigrationJson = z.output<typeof migrationSchema>;
type HypervisorJson = z.output<typeof hypervisorSchema>;
type AggregateJson = z.output<typeof aggregateSchema>;
type ServerGroupJson = z.output<typeof serverGroupSchema>;

/** Checks that parse a whole body; each throws MalformedAnswer naming the field. */
export const novaAnswers = {
  services: (d: unknown) => (checkAnswer(bodies.services, d).services as ServiceJson[]).map(mapService),
  service: (d: unknown) => mapService(checkAnswer(bodies.service, d).service),
  servers: (d: unknown) => pageOf('servers', checkAnswer(bodies.servers, d), mapServer),
  server: (d: unknown) => mapServer(checkAnswer(bodies.server, d).server),
  migrations: (d: unknown) => pageOf('migrations', checkAnswer(bodies.migrations, d), mapMigration),
  hypervisors: (d: unknown) => pageOf('hypervisors', checkAnswer(bodies.hypervisors, d), mapHypervisor),
  aggregates: (d: unknown) => checkAnswer(bodies.aggregates, d).aggregates.map(mapAggregate),
  serverGroups: (d: unknown) => pageOf('server_groups', checkAnswer(bodies.serverGroups, d), mapServerGroup),
  volumeAttachments: (d: unknown): NovaVolumeAttachment[] => checkAnswer(bodies.volumeAttachments, d).volumeAttachments.map((a) => ({
    volumeId: a.volumeId, ...(a.device ? { device: a.device } : {}), ...(a.attachment_id ? { attachmentId: a.attachment_id } : {}),
  })),
};

/** One volume Nova lists as attached to a server. */
export interface NovaVolumeAttachment {
  readonly volumeId: string;
  readonly device?: string;
  /** Cinder's attachment id, from 2.89. */
  readonly attachmentId?: string;
}

/** A checked page: its items, mapped, and its next link. */
export interface NovaPage<T> {
  readonly items: T[];
  readonly next: string | undefined;
}

function pageOf<K extends string, J, T>(key: K, body: Record<string, unknown>, map: (j: J) => T): NovaPage<T> {
  const items = (body[key] as J[]).map(map);
  const l = body[`${key}_links`] as Array<{ rel?: string; href?: string }> | undefined;
  return { items, next: l?.find((x) => x.rel === 'next')?.href };
}

/** Nova writes UTC timestamps without a zone ("2024-05-01T10:00:00.000000"); read them as UTC. */
export function novaTime(v: unknown): Date | null {
  if (typeof v !== 'string' || v.length === 0) return null;
  const withZone = /(Z|[+-]\d\d:?\d\d)$/.test(v) ? v : `${v}Z`;
  const d = new Date(withZone);
  return Number.isNaN(d.getTime()) ? null : d;
}

function mapService(s: ServiceJson): ComputeService {
  return {
    id: s.id,
    binary: s.binary,
    host: s.host,
    ...(s.zone ? { zone: s.zone } : {}),
    state: s.state,
    status: s.status,
    forcedDown: s.forced_down,
    disabledReason: s.disabled_reason ?? null,
    updatedAt: novaTime(s.updated_at),
  };
}

function mapHypervisor(h: HypervisorJson): Hypervisor {
  return {
    id: h.id,
    hostname: h.hypervisor_hostname,
    serviceHost: h.service?.host ?? h.hypervisor_hostname,
    ...(h.host_ip ? { hostIp: h.host_ip } : {}),
    state: h.state,
    status: h.status,
    vcpus: h.vcpus,
    vcpusUsed: h.vcpus_used,
    memoryMb: h.memory_mb,
    memoryMbUsed: h.memory_mb_used,
    ...(numaCellsOf(h.cpu_info) !== undefined ? { numaCells: numaCellsOf(h.cpu_info)! } : {}),
  };
}

function mapAddresses(raw: ServerJson['addresses']): ServerAddress[] {
  const out: ServerAddress[] = [];
  for (const [network, list] of Object.entries(raw ?? {})) {
    for (const a of list) {
      if (!a.addr) continue;
      const type = a['OS-EXT-IPS:type'];
      out.push({
        network,
        addr: a.addr,
        version: a.version === 6 || (a.version === undefined && a.addr.includes(':')) ? 6 : 4,
        type: type === 'fixed' || type === 'floating' ? type : undefined,
      });
    }
  }
  return out;
}

function mapServer(s: ServerJson): Server {
  const flavor = s.flavor ?? {};
  return {
    id: s.id,
    name: s.name,
    status: s.status,
    taskState: s['OS-EXT-STS:task_state'],
    vmState: s['OS-EXT-STS:vm_state'] ?? null,
    host: s['OS-EXT-SRV-ATTR:host'],
    availabilityZone: s['OS-EXT-AZ:availability_zone'] ?? undefined,
    addresses: mapAddresses(s.addresses),
    metadata: { ...(s.metadata ?? {}) },
    userId: s.user_id,
    projectId: s.tenant_id ?? s.project_id ?? '',
    // Embedded flavor from 2.47: `original_name`; `id` only before that.
    flavor: { vcpus: flavor.vcpus, ramMb: flavor.ram, name: flavor.original_name ?? flavor.id, ...(flavor.extra_specs ? { extraSpecs: asText(flavor.extra_specs) } : {}) },
    updatedAt: novaTime(s.updated) ?? undefined,
    // Nova answers `image: ""` for a server booted from a volume, `{id, links}` for one booted from an image.
    ...(s.image === '' ? { imageId: null } : s.image?.id ? { imageId: s.image.id } : {}),
    ...(s['os-extended-volumes:volumes_attached'] ? { volumeIds: s['os-extended-volumes:volumes_attached'].map((v) => v.id) } : {}),
    ...(s.locked !== undefined ? { locked: s.locked, lockedReason: s.locked_reason ?? null } : {}),
  };
}

function mapMigration(m: MigrationJson): Migration {
  return {
    id: m.id,
    uuid: m.uuid,
    instanceId: m.instance_uuid ?? '',
    type: m.migration_type,
    status: m.status ?? '',
    sourceCompute: m.source_compute,
    destCompute: m.dest_compute,
    createdAt: novaTime(m.created_at),
    updatedAt: novaTime(m.updated_at),
  };
}

/** Metadata and extra specs as text: Nova stores strings, but a value is compared, never trusted to be one. */
function asText(m: Readonly<Record<string, unknown>> | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m ?? {})) if (v !== null && v !== undefined) out[k] = typeof v === 'string' ? v : JSON.stringify(v);
  return out;
}

function mapAggregate(a: AggregateJson): Aggregate {
  return { id: a.id, name: a.name, hosts: a.hosts ?? [], availabilityZone: a.availability_zone ?? null, metadata: asText(a.metadata) };
}

function mapServerGroup(g: ServerGroupJson): ServerGroup {
  const max = g.rules?.max_server_per_host;
  return {
    id: g.id, name: g.name, policy: g.policy ?? g.policies?.[0] ?? '', members: g.members, projectId: g.project_id ?? '',
    ...(max !== undefined ? { maxServerPerHost: Number(max) } : {}),
  };
}
