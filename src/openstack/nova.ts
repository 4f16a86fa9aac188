import type { Logger } from '../shared/logger.js';
import { NOVA_EVACUATE_OUTCOME_UNKNOWN, NOVA_LIVE_MIGRATE_OUTCOME_UNKNOWN, OpenStackError } from './errors.js';
import type { HttpMethod, HttpResponse } from './http.js';
import type { KeystoneSession } from './keystone.js';
import { novaAnswers, type NovaPage, type NovaVolumeAttachment } from './nova-mappers.js';
import type {
  Aggregate, ServerGroup, CallOptions, ComputeService, Hypervisor, Migration, NovaApi, Server, ServiceUpdate,
} from './types.js';

/**
 * Highest microversion cmpha speaks. 2.95 makes evacuated servers come back stopped, which is not what an
 * HA controller wants, so the ceiling stays below it until that is handled on purpose.
 */
export const MAX_MICROVERSION = '2.93';
/** Service UUIDs and `forced_down` in PUT /os-services/{id}: everything cmpha does rests on them. */
export const MIN_MICROVERSION = '2.53';

/**
 * Hypervisors are listed at 2.87 at most. Measured on Nova Zed: from 2.88 `os-hypervisors/detail` asks each
 * compute for its uptime, so while Nova still believes a dead compute is up the call waits 60 s (the RPC
 * timeout) and answers 500, exactly when cmpha needs it; at 2.87 it answers in under a second, and it still
 * carries the vCPU/RAM usage figures that 2.88 removed.
 */
export const HYPERVISOR_MAX_MICROVERSION = '2.87';

const SERVERS_PAGE_SIZE = 500;
const MAX_PAGES = 10_000;

type Version = readonly [number, number];

export function parseMicroversion(text: string): Version | undefined {
  const m = /^(\d+)\.(\d+)$/.exec(text.trim());
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

export function compareMicroversions(a: Version, b: Version): number {
  return a[0] !== b[0] ? a[0] - b[0] : a[1] - b[1];
}

interface CallSpec {
  readonly query?: Readonly<Record<string, string | undefined>>;
  readonly body?: unknown;
  readonly idempotent: boolean;
  readonly outcomeUnknownCode?: string;
  readonly signal?: AbortSignal;
  /** Send at most this microversion for this call (the negotiated one when it is lower). */
  readonly maxMicroversion?: string;
  /** Checks the 2xx body (see HttpRequest.validate); its result is the response's data. */
  readonly validate?: (data: unknown) => unknown;
}

/** NovaApi over HTTP: negotiates a microversion once and sends it on every call. */
export class NovaClient implements NovaApi {
  readonly #session: KeystoneSession;
  readonly #logger: Logger;
  #negotiated: Promise<string> | null = null;
  #version: string | null = null;
  #warnedEcho = false;

  constructor(session: KeystoneSession, deps: { logger: Logger }) {
    this.#session = session;
    this.#logger = deps.logger;
  }

  microversion(opts: CallOptions = {}): Promise<string> {
    if (!this.#negotiated) {
      this.#negotiated = this.#negotiate(opts.signal).then(
        (v) => {
          this.#version = v;
          return v;
        },
        (err: unknown) => {
          // Not cached: a Nova that was down or too old a minute ago may be upgraded or back now.
          this.#negotiated = null;
          throw err;
        },
      );
    }
    return this.#negotiated;
  }

  async listComputeServices(opts: CallOptions & { host?: string } = {}): Promise<ComputeService[]> {
    const res = await this.#call<ComputeService[]>('GET', '/os-services', {
      query: { binary: 'nova-compute', host: opts.host }, idempotent: true, signal: opts.signal, validate: novaAnswers.services,
    });
    return res.data;
  }

  async listServices(binary: string, opts: CallOptions = {}): Promise<ComputeService[]> {
    const res = await this.#call<ComputeService[]>('GET', '/os-services', {
      query: { binary }, idempotent: true, signal: opts.signal, validate: novaAnswers.services,
    });
    return res.data;
  }

  async updateService(id: string, update: ServiceUpdate, opts: CallOptions = {}): Promise<ComputeService> {
    const body: Record<string, unknown> = {};
    if (update.status !== undefined) body.status = update.status;
    if (update.disabledReason !== undefined) body.disabled_reason = update.disabledReason;
    if (update.forcedDown !== undefined) body.forced_down = update.forcedDown;
    // Setting the same fields twice leaves the same state: safe to retry.
    const res = await this.#call<ComputeService>('PUT', `/os-services/${encodeURIComponent(id)}`, {
      body, idempotent: true, signal: opts.signal, validate: novaAnswers.service,
    });
    return res.data;
  }

  async listHypervisors(opts: CallOptions = {}): Promise<Hypervisor[]> {
    return this.#listAll('/os-hypervisors/detail', {}, novaAnswers.hypervisors, opts.signal, HYPERVISOR_MAX_MICROVERSION);
  }

  async listAggregates(opts: CallOptions = {}): Promise<Aggregate[]> {
    const res = await this.#call<Aggregate[]>('GET', '/os-aggregates', { idempotent: true, signal: opts.signal, validate: novaAnswers.aggregates });
    return res.data;
  }

  async listServerGroups(opts: CallOptions = {}): Promise<ServerGroup[]> {
    // os-server-groups pages by limit and offset and sends no next link: ask until a page comes back short.
    const out: ServerGroup[] = [];
    for (let page = 0; page < MAX_PAGES; page++) {
      const query = queryString({ all_projects: 'True', limit: String(SERVERS_PAGE_SIZE), offset: String(out.length) });
      const res = await this.#call<NovaPage<ServerGroup>>('GET', `/os-server-groups${query}`, { idempotent: true, signal: opts.signal, validate: novaAnswers.serverGroups });
      out.push(...res.data.items);
      if (res.data.items.length < SERVERS_PAGE_SIZE) return out;
    }
    throw new OpenStackError('nova_pagination_loop', `Nova /os-server-groups has more than ${MAX_PAGES} pages`, { service: 'nova', method: 'GET', path: '/os-server-groups' });
  }

  async addHostToAggregate(aggregateId: string, host: string, opts: CallOptions = {}): Promise<void> {
    // Not retried here: a repeat after a lost reply answers 409; the caller re-reads the aggregate instead.
    await this.#call('POST', `/os-aggregates/${encodeURIComponent(aggregateId)}/action`, {
      body: { add_host: { host } }, idempotent: false, signal: opts.signal,
    });
  }

  async listServersOnHost(host: string, opts: CallOptions = {}): Promise<Server[]> {
    return this.#listAll('/servers/detail', { all_tenants: '1', host, limit: String(SERVERS_PAGE_SIZE) }, novaAnswers.servers, opts.signal);
  }

  async listServersChangedSince(since: Date, opts: CallOptions = {}): Promise<Server[]> {
    // ISO 8601 in UTC, as the API reference gives it; Nova answers 400 to anything its date-time check refuses.
    return this.#listAll('/servers/detail', {
      all_tenants: '1', 'changes-since': since.toISOString(), limit: String(SERVERS_PAGE_SIZE),
    }, novaAnswers.servers, opts.signal);
  }

  async getServer(id: string, opts: CallOptions = {}): Promise<Server | null> {
    try {
      const res = await this.#call<Server>('GET', `/servers/${encodeURIComponent(id)}`, { idempotent: true, signal: opts.signal, validate: novaAnswers.server });
      return res.data;
    } catch (err) {
      if (err instanceof OpenStackError && err.status === 404) return null;
      throw err;
    }
  }

  /** The volumes Nova lists as attached to the server (its block device mappings); [] when it has none. */
  async listVolumeAttachments(serverId: string, opts: CallOptions = {}): Promise<NovaVolumeAttachment[]> {
    const res = await this.#call<NovaVolumeAttachment[]>('GET', `/servers/${encodeURIComponent(serverId)}/os-volume_attachments`, {
      idempotent: true, signal: opts.signal, validate: novaAnswers.volumeAttachments,
    });
    return res.data;
  }

  async evacuate(id: string, target?: string, opts: CallOptions = {}): Promise<void> {
    // From 2.14 there is no onSharedStorage; `force` is never sent, so the scheduler still checks the target.
    const evacuate: Record<string, unknown> = {};
    if (target !== undefined) evacuate.host = target;
    await this.#call('POST', `/servers/${encodeURIComponent(id)}/action`, {
      body: { evacuate }, idempotent: false, outcomeUnknownCode: NOVA_EVACUATE_OUTCOME_UNKNOWN, signal: opts.signal,
    });
  }

  async liveMigrate(id: string, target?: string, opts: CallOptions = {}): Promise<void> {
    await this.#call('POST', `/servers/${encodeURIComponent(id)}/action`, {
      body: { 'os-migrateLive': { host: target ?? null, block_migration: 'auto' } },
      idempotent: false, outcomeUnknownCode: NOVA_LIVE_MIGRATE_OUTCOME_UNKNOWN, signal: opts.signal,
    });
  }

  async reboot(id: string, type: 'HARD' | 'SOFT', opts: CallOptions = {}): Promise<void> {
    await this.#call('POST', `/servers/${encodeURIComponent(id)}/action`, { body: { reboot: { type } }, idempotent: false, signal: opts.signal });
  }

  async resetState(id: string, state: 'active' | 'error', opts: CallOptions = {}): Promise<void> {
    await this.#call('POST', `/servers/${encodeURIComponent(id)}/action`, { body: { 'os-resetState': { state } }, idempotent: true, signal: opts.signal });
  }

  async lock(id: string, reason: string, opts: CallOptions = {}): Promise<void> {
    // locked_reason is accepted from 2.73; before it the body must be null.
    const withReason = compareMicroversions(parseMicroversion(await this.microversion(opts))!, parseMicroversion('2.73')!) >= 0;
    await this.#call('POST', `/servers/${encodeURIComponent(id)}/action`, {
      body: { lock: withReason ? { locked_reason: reason } : null }, idempotent: true, signal: opts.signal,
    });
  }

  async listLockedServers(opts: CallOptions = {}): Promise<Server[]> {
    if (compareMicroversions(parseMicroversion(await this.microversion(opts))!, parseMicroversion('2.73')!) < 0) return [];
    return this.#listAll('/servers/detail', { all_tenants: '1', locked: 'true', limit: String(SERVERS_PAGE_SIZE) }, novaAnswers.servers, opts.signal);
  }

  async unlock(id: string, opts: CallOptions = {}): Promise<void> {
    await this.#call('POST', `/servers/${encodeURIComponent(id)}/action`, { body: { unlock: null }, idempotent: true, signal: opts.signal });
  }

  async powerAction(id: string, action: 'os-stop' | 'os-start' | 'pause' | 'suspend', opts: CallOptions = {}): Promise<void> {
    await this.#call('POST', `/servers/${encodeURIComponent(id)}/action`, { body: { [action]: null }, idempotent: false, signal: opts.signal });
  }

  async listMigrations(filter: { instanceId?: string; host?: string; type?: string }, opts: CallOptions = {}): Promise<Migration[]> {
    return this.#listAll('/os-migrations', {
      instance_uuid: filter.instanceId, host: filter.host, migration_type: filter.type,
    }, novaAnswers.migrations, opts.signal);
  }

  async #negotiate(signal?: AbortSignal): Promise<string> {
    const endpoint = await this.#session.endpoint('compute', signal);
    const res = await this.#session.send<VersionDocument>({
      service: 'nova', method: 'GET', url: versionDocumentUrl(endpoint), idempotent: true, signal,
    });
    const doc = pickVersion(res.data);
    const max = parseMicroversion(doc?.version ?? '');
    const path = new URL(versionDocumentUrl(endpoint)).pathname;
    if (!max) {
      throw new OpenStackError('nova_too_old', `Nova at ${endpoint} announces no microversions; cmpha needs 2.53 (Pike) or newer`, {
        service: 'nova', method: 'GET', path, status: res.status, requestId: res.requestId,
      });
    }
    if (compareMicroversions(max, parseMicroversion(MIN_MICROVERSION)!) < 0) {
      throw new OpenStackError('nova_too_old', `Nova at ${endpoint} supports up to ${doc!.version}; cmpha needs 2.53 (Pike) or newer`, {
        service: 'nova', method: 'GET', path, status: res.status, requestId: res.requestId,
      });
    }
    const min = parseMicroversion(doc?.min_version ?? '');
    if (min && compareMicroversions(min, parseMicroversion(MAX_MICROVERSION)!) > 0) {
      throw new OpenStackError('nova_too_new', `Nova at ${endpoint} needs at least ${doc!.min_version}; cmpha speaks up to ${MAX_MICROVERSION}`, {
        service: 'nova', method: 'GET', path, status: res.status, requestId: res.requestId,
      });
    }
    const chosen = compareMicroversions(max, parseMicroversion(MAX_MICROVERSION)!) < 0 ? `${max[0]}.${max[1]}` : MAX_MICROVERSION;
    this.#logger.info({ endpoint, serverMax: doc!.version, microversion: chosen }, 'nova microversion negotiated');
    return chosen;
  }

  async #call<T>(method: HttpMethod, path: string, spec: CallSpec): Promise<HttpResponse<T>> {
    const base = await this.#session.endpoint('compute', spec.signal);
    return this.#callUrl<T>(method, base + path + queryString(spec.query), spec);
  }

  async #callUrl<T>(method: HttpMethod, url: string, spec: CallSpec): Promise<HttpResponse<T>> {
    const negotiated = await this.microversion({ signal: spec.signal });
    const version = spec.maxMicroversion !== undefined && compareMicroversions(parseMicroversion(spec.maxMicroversion)!, parseMicroversion(negotiated)!) < 0
      ? spec.maxMicroversion : negotiated;
    const res = await this.#session.send<T>({
      service: 'nova', method, url, body: spec.body,
      headers: { 'OpenStack-API-Version': `compute ${version}` },
      idempotent: spec.idempotent, outcomeUnknownCode: spec.outcomeUnknownCode, signal: spec.signal, validate: spec.validate,
    });
    const echo = res.headers['openstack-api-version'];
    if (echo !== undefined && echo.trim() !== `compute ${version}` && !this.#warnedEcho) {
      // A proxy that strips the header makes Nova answer in 2.1 shapes (integer service ids).
      this.#warnedEcho = true;
      this.#logger.warn({ asked: `compute ${version}`, answered: echo }, 'nova answered with another microversion');
    }
    return res;
  }

  /**
   * GETs every page of a Nova collection. The next link's query (marker, limit, filters) is kept but its
   * scheme and host are not: behind a proxy Nova often builds them from its own bind address.
   */
  async #listAll<T>(path: string, query: Record<string, string | undefined>, check: (d: unknown) => NovaPage<T>, signal?: AbortSignal, maxMicroversion?: string): Promise<T[]> {
    const base = (await this.#session.endpoint('compute', signal)) + path;
    const out: T[] = [];
    const seen = new Set<string>();
    let search = queryString(query);
    for (let page = 0; page < MAX_PAGES; page++) {
      const res = await this.#callUrl<NovaPage<T>>('GET', base + search, { idempotent: true, signal, validate: check, ...(maxMicroversion ? { maxMicroversion } : {}) });
      const { items, next } = res.data;
      out.push(...items);
      if (!next || items.length === 0) return out;
      search = new URL(next, base).search;
      if (seen.has(search)) {
        throw new OpenStackError('nova_pagination_loop', `Nova ${path} sent the same next page twice (${search})`, {
          service: 'nova', method: 'GET', path: path + search, status: res.status, requestId: res.requestId,
        });
      }
      seen.add(search);
    }
    throw new OpenStackError('nova_pagination_loop', `Nova ${path} has more than ${MAX_PAGES} pages`, { service: 'nova', method: 'GET', path });
  }

  /** The negotiated version, or null before the first call (for diagnostics). */
  get negotiatedMicroversion(): string | null {
    return this.#version;
  }
}

interface VersionInfo { id?: string; version?: string; min_version?: string; status?: string }
interface VersionDocument { version?: VersionInfo; versions?: VersionInfo[] }

function pickVersion(doc: VersionDocument | undefined): VersionInfo | undefined {
  if (doc?.version) return doc.version;
  return doc?.versions?.find((v) => v.id === 'v2.1');
}

/**
 * Nova's version document for the API the endpoint belongs to: `…/v2.1/` even when the catalog URL
 * carries a project id (`…/v2.1/PROJECT`), or the root `versions` list when the URL has no version.
 */
export function versionDocumentUrl(endpoint: string): string {
  const u = new URL(endpoint);
  const segments = u.pathname.split('/').filter((s) => s.length > 0);
  const at = segments.findIndex((s) => /^v2(\.\d+)?$/.test(s));
  const kept = at >= 0 ? segments.slice(0, at + 1) : segments;
  u.pathname = `/${kept.join('/')}${kept.length > 0 ? '/' : ''}`;
  u.search = '';
  return u.toString();
}

function queryString(query: Readonly<Record<string, string | undefined>> | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.append(k, v);
  const s = params.toString();
  return s ? `?${s}` : '';
}
