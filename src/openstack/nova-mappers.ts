import type { Aggregate, ComputeService, Hypervisor, Migration, Server, ServerAddress } from './types.js';

// Nova JSON (field names as the API spells them at microversion 2.53 and later) → cmpha's typed objects.
// Raw bodies are untrusted: a missing field becomes null/undefined here, never a crash further on.

type Json = Record<string, unknown>;

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function obj(v: unknown): Json {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};
}

/** Nova writes UTC timestamps without a zone ("2024-05-01T10:00:00.000000"); read them as UTC. */
export function novaTime(v: unknown): Date | null {
  if (typeof v !== 'string' || v.length === 0) return null;
  const withZone = /(Z|[+-]\d\d:?\d\d)$/.test(v) ? v : `${v}Z`;
  const d = new Date(withZone);
  return Number.isNaN(d.getTime()) ? null : d;
}

export function toComputeService(raw: unknown): ComputeService {
  const s = obj(raw);
  return {
    id: str(s.id) ?? '',
    binary: str(s.binary) ?? '',
    host: str(s.host) ?? '',
    zone: str(s.zone),
    state: s.state === 'up' ? 'up' : 'down',
    status: s.status === 'enabled' ? 'enabled' : 'disabled',
    forcedDown: s.forced_down === true,
    disabledReason: str(s.disabled_reason) ?? null,
    updatedAt: novaTime(s.updated_at),
  };
}

export function toHypervisor(raw: unknown): Hypervisor {
  const h = obj(raw);
  const service = obj(h.service);
  const hostname = str(h.hypervisor_hostname) ?? '';
  return {
    id: str(h.id) ?? '',
    hostname,
    serviceHost: str(service.host) ?? hostname,
    hostIp: str(h.host_ip),
    state: h.state === 'up' ? 'up' : 'down',
    status: h.status === 'enabled' ? 'enabled' : 'disabled',
    vcpus: num(h.vcpus),
    vcpusUsed: num(h.vcpus_used),
    memoryMb: num(h.memory_mb),
    memoryMbUsed: num(h.memory_mb_used),
  };
}

function toAddresses(raw: unknown): ServerAddress[] {
  const out: ServerAddress[] = [];
  for (const [network, list] of Object.entries(obj(raw))) {
    if (!Array.isArray(list)) continue;
    for (const item of list) {
      const a = obj(item);
      const addr = str(a.addr);
      if (!addr) continue;
      const type = a['OS-EXT-IPS:type'];
      out.push({
        network,
        addr,
        version: a.version === 6 || (a.version === undefined && addr.includes(':')) ? 6 : 4,
        type: type === 'fixed' || type === 'floating' ? type : undefined,
      });
    }
  }
  return out;
}

export function toServer(raw: unknown): Server {
  const s = obj(raw);
  const flavor = obj(s.flavor);
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(s.metadata))) {
    const value = str(v);
    if (value !== undefined) metadata[k] = value;
  }
  return {
    id: str(s.id) ?? '',
    name: str(s.name) ?? '',
    status: str(s.status) ?? 'UNKNOWN',
    taskState: str(s['OS-EXT-STS:task_state']) ?? null,
    vmState: str(s['OS-EXT-STS:vm_state']) ?? null,
    host: str(s['OS-EXT-SRV-ATTR:host']) ?? null,
    availabilityZone: str(s['OS-EXT-AZ:availability_zone']),
    addresses: toAddresses(s.addresses),
    metadata,
    userId: str(s.user_id) ?? '',
    projectId: str(s.tenant_id) ?? str(s.project_id) ?? '',
    // Embedded flavor from 2.47: `original_name`; `id` only before that.
    flavor: { vcpus: num(flavor.vcpus), ramMb: num(flavor.ram), name: str(flavor.original_name) ?? str(flavor.id) },
    updatedAt: novaTime(s.updated) ?? undefined,
    ...imageOf(s.image),
  };
}

/** Nova answers `image: ""` for a server booted from a volume, `{id, links}` for one booted from an image. */
function imageOf(raw: unknown): { imageId?: string | null } {
  if (raw === '') return { imageId: null };
  const id = str(obj(raw).id);
  return id ? { imageId: id } : {};
}

export function toMigration(raw: unknown): Migration {
  const m = obj(raw);
  return {
    id: str(m.id) ?? '',
    uuid: str(m.uuid),
    instanceId: str(m.instance_uuid) ?? '',
    type: str(m.migration_type) ?? '',
    status: str(m.status) ?? '',
    sourceCompute: str(m.source_compute) ?? null,
    destCompute: str(m.dest_compute) ?? null,
    createdAt: novaTime(m.created_at),
    updatedAt: novaTime(m.updated_at),
  };
}

export function toAggregate(raw: unknown): Aggregate {
  const a = obj(raw);
  return {
    id: str(a.id) ?? '',
    name: str(a.name) ?? '',
    hosts: Array.isArray(a.hosts) ? a.hosts.filter((h): h is string => typeof h === 'string') : [],
    availabilityZone: str(a.availability_zone) ?? null,
  };
}
