import { z } from 'zod';
import { checkAnswer } from './answer-check.js';
import { CLOUDPODS_MIGRATE_OUTCOME_UNKNOWN, OpenStackError } from './errors.js';
import type { HttpMethod, HttpResponse } from './http.js';
import type { KeystoneSession } from './keystone.js';
import type { CallOptions } from './types.js';

// A Cloudpods region's compute API (yunionio/cloudpods, the `compute_v2` endpoint of its Keystone-v3-compatible
// catalog), as far as cmpha uses it. Every fact below is read in its source:
// - routes and bodies: pkg/appsrv/dispatcher/dispatcher.go (GET /<plural>, GET /<plural>/<id>, POST
//   /<plural>/<id>/<action>; a body may be wrapped under the singular keyword, answers are wrapped under it;
//   lists answer {"<plural>": [...], "total": N} and page by limit/offset, pkg/cloudcommon/db/db_dispatcher.go);
// - errors: {"code": 400, "class": "...", "details": "..."} (vendor/yunion.io/x/pkg/util/httputils JSONClientError).

/** Cloudpods' own word for the service in errors and logs. */
const SERVICE = 'cloudpods' as const;
const PAGE_SIZE = 500;
const MAX_PAGES = 10_000;

/** A host (`GET /hosts`), the fields cmpha reads. pkg/compute/models/hosts.go SHost, pkg/apis/compute/host.go HostDetails. */
export interface RegionHost {
  readonly id: string;
  readonly name: string;
  /** `host_status`: online while the host agent pings; offline after `POST /hosts/<id>/offline` or 180 s without a ping. */
  readonly hostStatus: string;
  readonly status: string;
  readonly enabled: boolean;
  readonly hostType: string;
  /** `updated_at`: moves with every ping (PerformPing saves last_ping_at, which the API does not list) and every admin change. */
  readonly updatedAt: Date | null;
  readonly accessIp: string | null;
  readonly zone: string | null;
  readonly metadata: Readonly<Record<string, string>>;
  /** HostDetails: whether the region itself migrates the host's guests when it goes down (metadata `__auto_migrate_on_host_down`). */
  readonly autoMigrateOnHostDown: boolean;
  readonly cpuCount?: number;
  readonly memSize?: number;
  readonly memReserved?: number;
  readonly cpuCommit?: number;
  readonly memCommit?: number;
  readonly cpuCommitBound?: number;
  readonly memCommitBound?: number;
}

/** A guest (`GET /servers`): pkg/compute/models/guests.go SGuest, pkg/apis/compute/guests.go ServerDetails. */
export interface RegionGuest {
  readonly id: string;
  readonly name: string;
  /** running, ready, unknown, start_migrate, migrating, migrate_failed, ... (pkg/apis/compute/guest_const.go). */
  readonly status: string;
  readonly hostId: string | null;
  readonly host: string | null;
  readonly projectId: string;
  readonly vcpuCount?: number;
  readonly vmemSize?: number;
  readonly updatedAt: Date | null;
  readonly nics: readonly { readonly ip: string; readonly ip6: string | null; readonly networkId: string }[];
  readonly eip: string | null;
  readonly metadata: Readonly<Record<string, string>>;
  /** Each disk's storage type (`disks_info[].storage_type`): local ones rule out a rescue-mode migration. */
  readonly storageTypes: readonly string[] | undefined;
  /** Each disk's id and storage type (`disks_info[]`, GuestDiskInfo in pkg/apis/compute/guests.go). */
  readonly disks: readonly { readonly id: string; readonly storageType: string }[] | undefined;
  readonly hypervisor: string | null;
}

/** What cmpha asks of a Cloudpods region. Reads are retried by the HTTP layer; a migrate never is. */
export interface RegionApi {
  listHosts(opts?: CallOptions & { readonly name?: string }): Promise<RegionHost[]>;
  /** Every guest on the host (all projects: `scope=system`), or changed since `since` when given. */
  listGuests(filter: { readonly hostId?: string; readonly since?: Date }, opts?: CallOptions): Promise<RegionGuest[]>;
  getGuest(id: string, opts?: CallOptions): Promise<RegionGuest | null>;
  /** `POST /hosts/<id>/<action>` with the body wrapped under `host`: offline, online, enable, disable, metadata, restart-host-agent. */
  hostAction(hostId: string, action: HostAction, body: Record<string, unknown>, opts?: CallOptions): Promise<void>;
  /** `POST /servers/<id>/migrate`: throws CLOUDPODS_MIGRATE_OUTCOME_UNKNOWN when it may have acted. */
  migrate(guestId: string, input: { readonly preferHostId: string | null; readonly rescueMode: boolean }, opts?: CallOptions): Promise<void>;
  liveMigrate(guestId: string, preferHostId: string | null, opts?: CallOptions): Promise<void>;
  /** `POST /servers/<id>/restart` with is_force: a hard restart. */
  restart(guestId: string, opts?: CallOptions): Promise<void>;
  /** `POST /servers/<id>/stop`: refused unless the guest is running (SBaseGuestDriver.CanStop); not resent. */
  stop(guestId: string, opts?: CallOptions): Promise<void>;
}

export type HostAction = 'offline' | 'online' | 'enable' | 'disable' | 'metadata' | 'restart-host-agent' | 'auto-migrate-on-host-down';

const num = z.number().optional().catch(undefined);
const text = z.string().nullish().transform((v) => (v === undefined || v === null || v === '' ? null : v));
const metadata = z.record(z.string(), z.unknown()).nullish()
  .transform((m) => Object.fromEntries(Object.entries(m ?? {}).filter((e): e is [string, string] => typeof e[1] === 'string')));

/** Cloudpods writes times as 2006-01-02T15:04:05.000000Z; a time it cannot read is none. */
export function regionTime(v: string | null): Date | null {
  if (v === null) return null;
  const t = Date.parse(v.replace(/(\.\d{3})\d+/, '$1'));
  return Number.isNaN(t) ? null : new Date(t);
}

const hostSchema = z.object({
  id: z.string().min(1), name: z.string(), host_status: z.string(), status: z.string().catch(''),
  enabled: z.boolean().catch(false), host_type: z.string().catch(''), updated_at: text, access_ip: text, zone: text,
  metadata, auto_migrate_on_host_down: z.boolean().catch(false),
  cpu_count: num, mem_size: num, mem_reserved: num, cpu_commit: num, mem_commit: num, cpu_commit_bound: num, mem_commit_bound: num,
}).transform((h): RegionHost => ({
  id: h.id, name: h.name, hostStatus: h.host_status, status: h.status, enabled: h.enabled, hostType: h.host_type,
  updatedAt: regionTime(h.updated_at), accessIp: h.access_ip, zone: h.zone, metadata: h.metadata, autoMigrateOnHostDown: h.auto_migrate_on_host_down,
  ...defined({ cpuCount: h.cpu_count, memSize: h.mem_size, memReserved: h.mem_reserved, cpuCommit: h.cpu_commit, memCommit: h.mem_commit,
    cpuCommitBound: h.cpu_commit_bound, memCommitBound: h.mem_commit_bound }),
}));

const guestSchema = z.object({
  id: z.string().min(1), name: z.string(), status: z.string(), host_id: text, host: text, tenant_id: z.string().catch(''),
  vcpu_count: num, vmem_size: num, updated_at: text, eip: text, metadata, hypervisor: text,
  nics: z.array(z.object({ ip_addr: text, ip6_addr: text, network_id: z.string().catch('') })).nullish(),
  disks_info: z.array(z.object({ id: z.string().catch(''), storage_type: z.string().catch('') })).nullish(),
}).transform((g): RegionGuest => ({
  id: g.id, name: g.name, status: g.status, hostId: g.host_id, host: g.host, projectId: g.tenant_id,
  ...defined({ vcpuCount: g.vcpu_count, vmemSize: g.vmem_size }), updatedAt: regionTime(g.updated_at), eip: g.eip, metadata: g.metadata,
  hypervisor: g.hypervisor,
  nics: (g.nics ?? []).filter((n) => n.ip_addr !== null || n.ip6_addr !== null).map((n) => ({ ip: n.ip_addr ?? '', ip6: n.ip6_addr, networkId: n.network_id })),
  storageTypes: g.disks_info ? g.disks_info.map((d) => d.storage_type) : undefined,
  disks: g.disks_info ? g.disks_info.map((d) => ({ id: d.id, storageType: d.storage_type })) : undefined,
}));

function defined<T extends Record<string, unknown>>(o: T): Partial<{ [K in keyof T]: Exclude<T[K], undefined> }> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<{ [K in keyof T]: Exclude<T[K], undefined> }>;
}

interface Page<T> { readonly items: T[]; readonly total: number | null }

function pageOf<T>(plural: string, item: z.ZodType<T>): (d: unknown) => Page<T> {
  const schema = z.object({ [plural]: z.array(item), total: z.number().optional() });
  return (d) => {
    const p = checkAnswer(schema, d) as Record<string, unknown>;
    return { items: p[plural] as T[], total: typeof p.total === 'number' ? p.total : null };
  };
}

const checkHosts = pageOf('hosts', hostSchema);
const checkGuests = pageOf('servers', guestSchema);
const checkGuest = (d: unknown) => checkAnswer(z.object({ server: guestSchema }), d).server;

/** RegionApi over HTTP, through the Keystone session (the token and the catalog's compute_v2 endpoint). */
export class RegionClient implements RegionApi {
  readonly #session: KeystoneSession;

  constructor(session: KeystoneSession) {
    this.#session = session;
  }

  listHosts(opts: CallOptions & { readonly name?: string } = {}): Promise<RegionHost[]> {
    // Hypervisor hosts only: baremetal and other host types have no guests cmpha moves.
    return this.#listAll('hosts', { scope: 'system', host_type: 'hypervisor', ...(opts.name !== undefined ? { name: opts.name } : {}) }, checkHosts, opts.signal);
  }

  async listGuests(filter: { readonly hostId?: string; readonly since?: Date }, opts: CallOptions = {}): Promise<RegionGuest[]> {
    // `host` filters by host id or name (HostResourceInput, pkg/apis/compute/host.go); `scope=system` lists every project's.
    const all = await this.#listAll('servers', { scope: 'system', ...(filter.hostId !== undefined ? { host: filter.hostId } : {}) }, checkGuests, opts.signal);
    const since = filter.since?.getTime();
    // The list has no changes-since; the region's own updated_at is compared instead (deleted guests are not listed).
    return since === undefined ? all : all.filter((g) => (g.updatedAt?.getTime() ?? Infinity) >= since);
  }

  async getGuest(id: string, opts: CallOptions = {}): Promise<RegionGuest | null> {
    try {
      return (await this.#call<RegionGuest>('GET', `/servers/${encodeURIComponent(id)}`, { idempotent: true, signal: opts.signal, validate: checkGuest })).data;
    } catch (err) {
      if (err instanceof OpenStackError && err.status === 404) return null;
      throw err;
    }
  }

  async hostAction(hostId: string, action: HostAction, body: Record<string, unknown>, opts: CallOptions = {}): Promise<void> {
    // offline/online/enable/disable/metadata set a state: sending one twice does no harm (PerformOffline is a no-op
    // on an offline host). restart-host-agent makes the agent exit: not repeated by this layer.
    await this.#call('POST', `/hosts/${encodeURIComponent(hostId)}/${action}`, { body: { host: body }, idempotent: action !== 'restart-host-agent', signal: opts.signal });
  }

  async migrate(guestId: string, input: { readonly preferHostId: string | null; readonly rescueMode: boolean }, opts: CallOptions = {}): Promise<void> {
    // A second migrate of a guest whose migration runs is accepted by the region (rescue mode checks no guest status:
    // SKVMGuestDriver.CheckMigrate): never sent twice blindly.
    const server = { rescue_mode: input.rescueMode, ...(input.preferHostId !== null ? { prefer_host_id: input.preferHostId } : {}) };
    await this.#call('POST', `/servers/${encodeURIComponent(guestId)}/migrate`, {
      body: { server }, idempotent: false, outcomeUnknownCode: CLOUDPODS_MIGRATE_OUTCOME_UNKNOWN, signal: opts.signal,
    });
  }

  async liveMigrate(guestId: string, preferHostId: string | null, opts: CallOptions = {}): Promise<void> {
    await this.#call('POST', `/servers/${encodeURIComponent(guestId)}/live-migrate`, {
      body: { server: preferHostId !== null ? { prefer_host_id: preferHostId } : {} }, idempotent: false, outcomeUnknownCode: CLOUDPODS_MIGRATE_OUTCOME_UNKNOWN, signal: opts.signal,
    });
  }

  async restart(guestId: string, opts: CallOptions = {}): Promise<void> {
    await this.#call('POST', `/servers/${encodeURIComponent(guestId)}/restart`, { body: { server: { is_force: true } }, idempotent: false, signal: opts.signal });
  }

  async stop(guestId: string, opts: CallOptions = {}): Promise<void> {
    // Not forced: the guest's OS is asked to shut down first (GuestStopTask's timeout, then the agent stops it).
    await this.#call('POST', `/servers/${encodeURIComponent(guestId)}/stop`, { body: { server: {} }, idempotent: false, signal: opts.signal });
  }

  async #listAll<T>(plural: string, query: Record<string, string>, check: (d: unknown) => Page<T>, signal?: AbortSignal): Promise<T[]> {
    const out: T[] = [];
    for (let page = 0; page < MAX_PAGES; page++) {
      const res = await this.#call<Page<T>>('GET', `/${plural}`, {
        query: { ...query, limit: String(PAGE_SIZE), offset: String(out.length) }, idempotent: true, signal, validate: check,
      });
      const { items, total } = res.data;
      out.push(...items);
      if (items.length === 0 || total === null || out.length >= total) return out;
    }
    throw new OpenStackError('cloudpods_pagination_loop', `the Cloudpods region's /${plural} has more than ${MAX_PAGES} pages`, { service: SERVICE, method: 'GET', path: `/${plural}` });
  }

  async #call<T>(method: HttpMethod, path: string, spec: {
    readonly query?: Readonly<Record<string, string>>; readonly body?: unknown; readonly idempotent: boolean; readonly outcomeUnknownCode?: string;
    readonly signal?: AbortSignal; readonly validate?: (d: unknown) => unknown;
  }): Promise<HttpResponse<T>> {
    const base = (await this.#session.endpoint('compute_v2', spec.signal)).replace(/\/+$/, '');
    const search = spec.query ? `?${new URLSearchParams(spec.query).toString()}` : '';
    return this.#session.send<T>({
      service: SERVICE, method, url: `${base}${path}${search}`, idempotent: spec.idempotent,
      ...(spec.body !== undefined ? { body: spec.body } : {}), ...(spec.outcomeUnknownCode ? { outcomeUnknownCode: spec.outcomeUnknownCode } : {}),
      ...(spec.signal ? { signal: spec.signal } : {}), ...(spec.validate ? { validate: spec.validate } : {}),
    });
  }
}
