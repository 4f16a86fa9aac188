import { createHash, randomBytes } from 'node:crypto';
import { isoSeconds, novaTime as novaTimeOf } from './clock.js';
import { SimHttpError, novaError } from './http-error.js';
import type { SimRequest, SimResponse } from './http-types.js';
import type { Keystone, TokenInfo } from './keystone.js';
import { formatMicroversion, microversionHeaders, mv, parseMicroversion, requestMicroversion, type Microversion } from './microversion.js';
import type { Flavor, SimAggregate, SimHost, SimMigration, SimServer, SimServerGroup } from './types.js';
import type { World } from './world.js';

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
/** Nova's osapi_max_limit. */
const MAX_LIMIT = 1000;

interface Ctx {
  readonly req: SimRequest;
  readonly v: Microversion;
  readonly token: TokenInfo;
  readonly admin: boolean;
  readonly prefix: string;
}

/** ISO 8601 as Nova's date-time check takes it: a date, optionally a time (seconds, fraction), optionally a zone. */
function parseIsoTime(raw: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/.exec(raw.trim());
  if (!m) return null;
  const [, y, mo, d, h = '00', mi = '00', sec = '00', frac = '', zone = 'Z'] = m;
  const ms = frac ? Math.floor(Number(`0.${frac}`) * 1000) : 0;
  const z = zone === 'Z' ? 'Z' : zone.length === 3 ? `${zone}:00` : zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const t = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${sec}.${String(ms).padStart(3, '0')}${z}`);
  // Date.parse rolls 2024-02-31 over to March; Nova refuses it.
  if (Number.isNaN(t) || new Date(Date.parse(`${y}-${mo}-${d}T00:00:00Z`)).toISOString().slice(0, 10) !== `${y}-${mo}-${d}`) return null;
  return t;
}

function jsonRepr(v: unknown): string {
  return JSON.stringify(v)?.replace(/"/g, "'").replace(/\btrue\b/g, 'True').replace(/\bfalse\b/g, 'False').replace(/\bnull\b/g, 'None') ?? 'None';
}

function invalidInput(field: string, value: unknown, why: string): SimHttpError {
  return novaError(400, `Invalid input for field/attribute ${field}. Value: ${jsonRepr(value)}. ${why}`);
}

/** A tiny JSON-schema subset: an object with known properties, types and required keys, no others. */
function checkObject(
  field: string,
  value: unknown,
  props: Record<string, (v: unknown) => string | null>,
  required: readonly string[] = [],
): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidInput(field, value, `${jsonRepr(value)} is not of type 'object'`);
  const obj = value as Record<string, unknown>;
  const extra = Object.keys(obj).filter((k) => !(k in props));
  if (extra.length > 0) {
    throw invalidInput(field, value, `Additional properties are not allowed (${extra.map((k) => `'${k}'`).join(', ')} ${extra.length === 1 ? 'was' : 'were'} unexpected)`);
  }
  for (const r of required) if (!(r in obj)) throw invalidInput(field, value, `'${r}' is a required property`);
  for (const [k, check] of Object.entries(props)) {
    if (!(k in obj)) continue;
    const problem = check(obj[k]);
    if (problem) throw invalidInput(`${field}/${k}`, obj[k], problem);
  }
  return obj;
}

const isBool = (v: unknown) => (typeof v === 'boolean' ? null : `${jsonRepr(v)} is not of type 'boolean'`);
const isHostname = (v: unknown) =>
  typeof v === 'string' && /^[a-zA-Z0-9-._]{1,255}$/.test(v) ? null : `${jsonRepr(v)} does not match '^[a-zA-Z0-9-._]*$'`;
const isString = (max = 255) => (v: unknown) =>
  typeof v === 'string' ? (v.length > max ? `${jsonRepr(v)} is too long` : null) : `${jsonRepr(v)} is not of type 'string'`;

/** The Compute API (v2.1 with microversions) over the world. */
export class Nova {
  private readonly hostIdCache = new Map<string, string>();

  /** Nova's timestamps come from Nova's clock, which may be off the world's (SimClock.novaSkewMs). */
  private novaTime(ms: number): string {
    return novaTimeOf(this.world.clock.nova(ms));
  }

  private get base(): string {
    return this.urls.base;
  }
  private readonly min: Microversion;
  private readonly max: Microversion;

  constructor(
    private readonly world: World,
    private readonly keystone: Keystone,
    private readonly urls: { readonly base: string },
  ) {
    this.min = parseMicroversion(world.settings.minMicroversion) ?? mv('2.1');
    this.max = parseMicroversion(world.settings.maxMicroversion) ?? mv('2.93');
  }

  async handle(req: SimRequest): Promise<SimResponse | null> {
    if (!req.path.startsWith('/compute')) return null;
    const p = req.path.replace(/\/+$/, '');
    if (req.method === 'GET' && p === '/compute') return { status: 200, body: { versions: [this.versionDoc()] } };
    if (req.method === 'GET' && p === '/compute/v2.1') return { status: 200, body: { version: this.versionDoc() } };
    const token = this.keystone.authenticate(req);
    let v: Microversion = this.min;
    try {
      v = requestMicroversion(req.headers, this.min, this.max);
    } catch (err) {
      if (err instanceof SimHttpError) throw new SimHttpError(err.status, err.body, { ...microversionHeaders(this.min), ...err.headers });
      throw err;
    }
    const headers = microversionHeaders(v);
    const ctx: Ctx = { req, v, token, admin: token.roles.includes('admin'), prefix: `${this.base}/compute/v2.1` };
    try {
      this.world.advance();
      const res = await this.route(ctx, p.slice('/compute/v2.1'.length));
      return { ...res, headers: { ...headers, ...(res.headers ?? {}) } };
    } catch (err) {
      if (err instanceof SimHttpError) throw new SimHttpError(err.status, err.body, { ...headers, ...err.headers });
      throw err;
    }
  }

  private versionDoc() {
    return {
      id: 'v2.1', status: 'CURRENT', version: formatMicroversion(this.max), min_version: formatMicroversion(this.min),
      updated: '2013-07-23T11:33:21Z',
      links: [{ rel: 'self', href: `${this.base}/compute/v2.1/` }],
      'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.compute+json;version=2.1' }],
    };
  }

  private requireAdmin(ctx: Ctx, rule: string): void {
    if (!ctx.admin) throw novaError(403, `Policy doesn't allow ${rule} to be performed.`);
  }

  private async route(ctx: Ctx, p: string): Promise<SimResponse> {
    const method = ctx.req.method;
    let m: RegExpExecArray | null;
    if (p === '/os-services' && method === 'GET') return this.listServices(ctx);
    if ((m = /^\/os-services\/([^/]+)$/.exec(p)) && method === 'PUT') return this.updateService(ctx, decodeURIComponent(m[1]!));
    if (p === '/os-hypervisors/detail' && method === 'GET') return this.listHypervisors(ctx, true);
    if (p === '/os-hypervisors' && method === 'GET') return this.listHypervisors(ctx, false);
    if ((m = /^\/os-hypervisors\/([^/]+)$/.exec(p)) && method === 'GET') return this.showHypervisor(ctx, decodeURIComponent(m[1]!));
    if (p === '/os-server-groups' && method === 'GET') return this.listServerGroups(ctx);
    if (p === '/os-server-groups' && method === 'POST') return this.createServerGroup(ctx);
    if (p === '/os-aggregates' && method === 'GET') {
      this.requireAdmin(ctx, 'os_compute_api:os-aggregates:index');
      return { status: 200, body: { aggregates: this.world.aggregates.map((a) => this.aggregateBody(ctx, a)) } };
    }
    if ((m = /^\/os-aggregates\/([^/]+)$/.exec(p)) && method === 'GET') {
      this.requireAdmin(ctx, 'os_compute_api:os-aggregates:show');
      return { status: 200, body: { aggregate: this.aggregateBody(ctx, this.findAggregate(m[1]!)) } };
    }
    if ((m = /^\/os-aggregates\/([^/]+)\/action$/.exec(p)) && method === 'POST') return this.aggregateAction(ctx, m[1]!);
    if (p === '/servers/detail' && method === 'GET') return this.listServers(ctx, true);
    if (p === '/servers' && method === 'GET') return this.listServers(ctx, false);
    if ((m = /^\/servers\/([^/]+)$/.exec(p)) && method === 'GET') {
      return { status: 200, body: { server: this.serverBody(ctx, this.findServer(ctx, m[1]!)) } };
    }
    if ((m = /^\/servers\/([^/]+)\/action$/.exec(p)) && method === 'POST') return this.serverAction(ctx, m[1]!);
    if ((m = /^\/servers\/([^/]+)$/.exec(p)) && method === 'DELETE') {
      this.world.deleteServer(this.findServer(ctx, m[1]!).id);
      return { status: 204 };
    }
    if ((m = /^\/servers\/([^/]+)\/os-instance-actions$/.exec(p)) && method === 'GET') return this.listActions(ctx, m[1]!);
    if ((m = /^\/servers\/([^/]+)\/os-volume_attachments$/.exec(p)) && method === 'GET') return this.volumeAttachments(ctx, m[1]!);
    if ((m = /^\/servers\/([^/]+)\/os-instance-actions\/([^/]+)$/.exec(p)) && method === 'GET') return this.showAction(ctx, m[1]!, m[2]!);
    if (p === '/os-migrations' && method === 'GET') return this.listMigrations(ctx);
    if ((m = /^\/servers\/([^/]+)\/migrations$/.exec(p)) && method === 'GET') return this.serverMigrations(ctx, m[1]!);
    if ((p === '/os-availability-zone' || p === '/os-availability-zone/detail') && method === 'GET') return this.availabilityZones(ctx, p.endsWith('/detail'));
    if ((p === '/flavors' || p === '/flavors/detail') && method === 'GET') {
      return { status: 200, body: { flavors: this.world.flavors.map((f) => (p.endsWith('/detail') ? this.flavorBody(ctx, f) : { id: f.id, name: f.name, links: this.flavorLinks(ctx, f) })) } };
    }
    if ((m = /^\/flavors\/([^/]+)$/.exec(p)) && method === 'GET') {
      const f = this.world.flavors.find((x) => x.id === m![1]);
      if (!f) throw novaError(404, `Flavor ${m[1]} could not be found.`);
      return { status: 200, body: { flavor: this.flavorBody(ctx, f) } };
    }
    if (p === '' && method === 'GET') return { status: 200, body: { version: this.versionDoc() } };
    throw novaError(404, 'The resource could not be found.');
  }

  // ------------------------------------------------------------------ services

  private serviceBody(ctx: Ctx, h: SimHost) {
    const now = this.world.now();
    const updated = this.world.serviceUpdatedAt(h, now);
    const body: Record<string, unknown> = {
      id: ctx.v >= mv('2.53') ? h.serviceUuid : h.serviceIntId,
      binary: 'nova-compute',
      disabled_reason: h.disabledReason,
      host: h.name,
      state: this.world.serviceUp(h, now) ? 'up' : 'down',
      status: h.disabled ? 'disabled' : 'enabled',
      updated_at: updated === null ? null : this.novaTime(updated),
      zone: this.world.hostAz(h),
    };
    if (ctx.v >= mv('2.11')) body.forced_down = h.forcedDown;
    return body;
  }

  private controlServiceBody(ctx: Ctx, s: World['controlServices'][number]) {
    const now = this.world.now();
    const body: Record<string, unknown> = {
      id: ctx.v >= mv('2.53') ? s.uuid : s.intId, binary: s.binary, disabled_reason: null, host: s.host,
      // A stopped service's heartbeat stands still; Nova calls it down after service_down_time, like a compute.
      state: s.stoppedAt !== undefined && now - s.stoppedAt > this.world.settings.serviceDownTimeMs ? 'down' : 'up',
      status: 'enabled', updated_at: this.novaTime(s.stoppedAt ?? (now - ((now - s.createdAt) % this.world.settings.reportIntervalMs))), zone: 'internal',
    };
    if (ctx.v >= mv('2.11')) body.forced_down = false;
    return body;
  }

  private listServices(ctx: Ctx): SimResponse {
    this.requireAdmin(ctx, 'os_compute_api:os-services:list');
    const q = ctx.req.url.searchParams;
    const binary = q.get('binary');
    const host = q.get('host');
    const out: unknown[] = [];
    for (const s of this.world.controlServices) {
      if ((binary && s.binary !== binary) || (host && s.host !== host)) continue;
      out.push(this.controlServiceBody(ctx, s));
    }
    if (!binary || binary === 'nova-compute') {
      const hosts = host ? [this.world.host(host)].filter((h): h is SimHost => !!h) : this.world.hostList;
      for (const h of hosts) out.push(this.serviceBody(ctx, h));
    }
    return { status: 200, body: { services: out } };
  }

  private updateService(ctx: Ctx, id: string): SimResponse {
    this.requireAdmin(ctx, 'os_compute_api:os-services:update');
    if (ctx.v < mv('2.53')) return this.updateServiceLegacy(ctx, id);
    if (!UUID_RE.test(id)) throw novaError(400, `Invalid uuid ${id}`);
    const control = this.world.controlServices.find((s) => s.uuid === id);
    const h = this.world.hostList.find((x) => x.serviceUuid === id);
    if (!h && !control) throw novaError(404, `Service ${id} not found.`);
    const body = checkObject('request body', ctx.req.body, {
      status: (v) => (v === 'enabled' || v === 'disabled' ? null : `${jsonRepr(v)} is not one of ['enabled', 'disabled']`),
      disabled_reason: (v) => (typeof v === 'string' && v.length >= 1 && v.length <= 255 ? null : `${jsonRepr(v)} is not a valid disabled reason`),
      forced_down: isBool,
    });
    if (control) {
      throw novaError(400, `Updating a ${control.binary} service is not supported. Only nova-compute services can be updated.`);
    }
    const status = body.status as 'enabled' | 'disabled' | undefined;
    const reason = body.disabled_reason as string | undefined;
    const forcedDown = body.forced_down as boolean | undefined;
    if (reason !== undefined && status !== 'disabled') {
      throw novaError(400, `Specifying 'disabled_reason' with status '${status ?? 'None'}' is invalid.`);
    }
    if (status === undefined && forcedDown === undefined) throw novaError(400, 'At least one of status or forced_down must be specified.');
    if (forcedDown === false && this.world.doneEvacuationsFrom(h!.name).length > 0) {
      throw novaError(400, `Unable to force up host ${h!.name} as \`done\` evacuation migration records remain associated with the host. Ensure the compute service has been restarted, allowing these records to move to \`completed\` before retrying this request.`);
    }
    const change: Parameters<World['updateService']>[1] = {};
    if (status !== undefined) change.status = status;
    if (status === 'disabled') change.disabledReason = reason ?? null;
    if (forcedDown !== undefined) change.forcedDown = forcedDown;
    const delayMs = this.world.updateService(h!, change);
    return { status: 200, body: { service: this.serviceBody(ctx, h!) }, delayMs };
  }

  /** Before 2.53: PUT /os-services/{enable,disable,disable-log-reason,force-down} with host and binary. */
  private updateServiceLegacy(ctx: Ctx, action: string): SimResponse {
    const actions = ['enable', 'disable', 'disable-log-reason', ...(ctx.v >= mv('2.11') ? ['force-down'] : [])];
    if (!actions.includes(action)) throw novaError(404, 'Unknown action');
    const props: Record<string, (v: unknown) => string | null> = { host: isHostname, binary: isHostname };
    if (action === 'disable-log-reason') props.disabled_reason = isString(255);
    if (action === 'force-down') props.forced_down = isBool;
    const body = checkObject('request body', ctx.req.body, props, ['host', 'binary']);
    const h = body.binary === 'nova-compute' ? this.world.host(body.host as string) : undefined;
    if (!h) throw novaError(404, 'Unknown service');
    let delayMs = 0;
    const out: Record<string, unknown> = { host: h.name, binary: 'nova-compute' };
    if (action === 'force-down') {
      if (!('forced_down' in body)) throw novaError(400, 'Missing forced_down field');
      const fd = body.forced_down as boolean;
      if (!fd && this.world.doneEvacuationsFrom(h.name).length > 0) {
        throw novaError(400, `Unable to force up host ${h.name} as \`done\` evacuation migration records remain associated with the host. Ensure the compute service has been restarted, allowing these records to move to \`completed\` before retrying this request.`);
      }
      delayMs = this.world.updateService(h, { forcedDown: fd });
      out.forced_down = fd;
    } else {
      const disable = action !== 'enable';
      const reason = action === 'disable-log-reason' ? (body.disabled_reason as string | undefined) ?? null : null;
      if (action === 'disable-log-reason' && !reason) throw novaError(400, 'Missing disabled reason field');
      delayMs = this.world.updateService(h, { status: disable ? 'disabled' : 'enabled', disabledReason: reason });
      out.status = disable ? 'disabled' : 'enabled';
      if (reason) out.disabled_reason = reason;
    }
    return { status: 200, body: { service: out }, delayMs };
  }

  // ------------------------------------------------------------------ hypervisors

  private hypervisorBody(ctx: Ctx, h: SimHost, detail: boolean) {
    const up = this.world.serviceUp(h);
    const base: Record<string, unknown> = {
      id: ctx.v >= mv('2.53') ? h.hypervisorUuid : h.hypervisorIntId,
      hypervisor_hostname: h.name,
      state: up ? 'up' : 'down',
      status: h.disabled ? 'disabled' : 'enabled',
    };
    if (!detail) return base;
    const s = this.world.settings;
    const memUsed = h.memoryMbUsed + s.reservedHostMemoryMb;
    Object.assign(base, {
      hypervisor_type: 'QEMU', hypervisor_version: 6002000, host_ip: h.mgmtIp,
      service: { host: h.name, id: ctx.v >= mv('2.53') ? h.serviceUuid : h.serviceIntId, disabled_reason: h.disabledReason },
    });
    if (ctx.v >= mv('2.88')) {
      base.uptime = h.power === 'on' && !h.hung ? ` ${isoSeconds(this.world.now()).slice(11, 19)} up 1 day,  1 user,  load average: 0.50, 0.40, 0.30` : null;
      return base;
    }
    // libvirt's driver reports its NUMA cells in the topology (the fake driver leaves `cells` out).
    const cpuInfo = { arch: 'x86_64', model: 'Cascadelake-Server', vendor: 'Intel', topology: { cells: h.capabilities?.numaNodes ?? 1, sockets: 2, cores: 8, threads: 2 }, features: ['vmx', 'sse4.2'] };
    Object.assign(base, {
      vcpus: h.vcpus, memory_mb: h.memoryMb, local_gb: h.localGb,
      vcpus_used: h.vcpusUsed, memory_mb_used: memUsed, local_gb_used: h.diskGbUsed,
      free_ram_mb: h.memoryMb - memUsed, free_disk_gb: h.localGb - h.diskGbUsed, current_workload: 0,
      running_vms: h.servers.size, disk_available_least: h.localGb - h.diskGbUsed,
      cpu_info: ctx.v >= mv('2.28') ? cpuInfo : JSON.stringify(cpuInfo),
    });
    return base;
  }

  private listHypervisors(ctx: Ctx, detail: boolean): SimResponse {
    this.requireAdmin(ctx, 'os_compute_api:os-hypervisors:list');
    const q = ctx.req.url.searchParams;
    let hosts = this.world.hostList;
    const pattern = q.get('hypervisor_hostname_pattern');
    if (pattern !== null && ctx.v >= mv('2.53')) hosts = hosts.filter((h) => h.name.includes(pattern));
    let links: unknown[] | undefined;
    if (ctx.v >= mv('2.33')) {
      const { page, next } = this.paginate(ctx, hosts, (h) => (ctx.v >= mv('2.53') ? h.hypervisorUuid : String(h.hypervisorIntId)), 'marker');
      hosts = page;
      if (next) links = [{ rel: 'next', href: this.nextLink(ctx, next) }];
    }
    // Measured on Nova Zed: from 2.88 the detailed list asks every compute for its uptime over RPC. A compute
    // Nova still believes up but that does not answer (dead, not yet down, not forced down) makes the whole call
    // wait for the RPC timeout and end in a 500.
    if (detail && ctx.v >= mv('2.88')) {
      const now = this.world.now();
      if (hosts.some((h) => this.world.serviceUp(h, now) && !this.world.computeAnswers(h))) {
        const err = novaError(500, 'Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and attach the Nova API log if possible.\n<class \'oslo_messaging.exceptions.MessagingTimeout\'>');
        return { status: err.status, body: err.body, delayMs: this.world.settings.rpcTimeoutMs };
      }
    }
    return {
      status: 200,
      body: { hypervisors: hosts.map((h) => this.hypervisorBody(ctx, h, detail)), ...(links ? { hypervisors_links: links } : {}) },
    };
  }

  private showHypervisor(ctx: Ctx, id: string): SimResponse {
    this.requireAdmin(ctx, 'os_compute_api:os-hypervisors:show');
    const h = this.world.hostList.find((x) => (ctx.v >= mv('2.53') ? x.hypervisorUuid === id : String(x.hypervisorIntId) === id));
    if (!h) throw novaError(404, `Hypervisor with ID ${id} could not be found.`);
    return { status: 200, body: { hypervisor: this.hypervisorBody(ctx, h, true) } };
  }

  // ------------------------------------------------------------------ aggregates

  private findAggregate(id: string): SimAggregate {
    const a = this.world.aggregates.find((x) => String(x.id) === id);
    if (!a) throw novaError(404, `Aggregate ${id} could not be found.`);
    return a;
  }

  private aggregateBody(ctx: Ctx, a: SimAggregate) {
    return {
      availability_zone: a.availabilityZone, created_at: this.novaTime(a.createdAt), deleted: false, deleted_at: null,
      hosts: [...a.hosts], id: a.id, metadata: { ...a.metadata, ...(a.availabilityZone ? { availability_zone: a.availabilityZone } : {}) },
      name: a.name, updated_at: a.updatedAt === null ? null : this.novaTime(a.updatedAt), ...(ctx.v >= mv('2.41') ? { uuid: a.uuid } : {}),
    };
  }

  private aggregateAction(ctx: Ctx, id: string): SimResponse {
    this.requireAdmin(ctx, 'os_compute_api:os-aggregates:add_host');
    const a = this.findAggregate(id);
    const body = ctx.req.body as Record<string, unknown> | undefined;
    const key = body && typeof body === 'object' ? Object.keys(body)[0] : undefined;
    if (key === 'add_host' || key === 'remove_host') {
      const inner = checkObject(key, body![key], { host: isHostname }, ['host']);
      const host = inner.host as string;
      if (key === 'add_host') {
        if (!this.world.host(host)) throw novaError(404, `Compute host ${host} could not be found.`);
        if (a.hosts.includes(host)) throw novaError(409, `Aggregate ${a.id} already has host ${host}.`);
        a.hosts.push(host);
      } else {
        const i = a.hosts.indexOf(host);
        if (i < 0) throw novaError(404, `Cannot remove host ${host} in aggregate ${a.id}`);
        a.hosts.splice(i, 1);
      }
      a.updatedAt = this.world.now();
      return { status: 200, body: { aggregate: this.aggregateBody(ctx, a) } };
    }
    if (key === 'set_metadata') {
      const inner = checkObject(key, body![key], { metadata: (v) => (typeof v === 'object' && v !== null ? null : 'not an object') }, ['metadata']);
      for (const [k, v] of Object.entries(inner.metadata as Record<string, unknown>)) {
        if (v === null) delete a.metadata[k];
        else a.metadata[k] = String(v);
        if (k === 'availability_zone') a.availabilityZone = v === null ? null : String(v);
      }
      a.updatedAt = this.world.now();
      return { status: 200, body: { aggregate: this.aggregateBody(ctx, a) } };
    }
    throw novaError(400, `There is no such action: ${key ?? 'None'}`);
  }

  // ------------------------------------------------------------------ server groups

  /** 2.64+: `policy` and `rules`; before, `policies` (a list of one) and `metadata`. */
  private serverGroupBody(ctx: Ctx, g: SimServerGroup) {
    const common = { id: g.id, name: g.name, members: [...g.members], project_id: g.projectId, user_id: g.userId };
    return ctx.v >= mv('2.64')
      ? { ...common, policy: g.policy, rules: g.policy === 'anti-affinity' && g.maxServerPerHost !== undefined ? { max_server_per_host: g.maxServerPerHost } : {} }
      : { ...common, policies: [g.policy], metadata: {} };
  }

  /** GET /os-server-groups: the caller's project's, or with all_projects every project's (admin); limit and offset, no links. */
  private listServerGroups(ctx: Ctx): SimResponse {
    const q = ctx.req.url.searchParams;
    const all = ctx.admin && ['true', '1', 'yes'].includes(String(q.get('all_projects') ?? '').toLowerCase());
    const groups = this.world.serverGroups.filter((g) => all || g.projectId === ctx.token.projectId);
    const offset = Number(q.get('offset') ?? 0);
    const limit = Math.min(Number(q.get('limit') ?? MAX_LIMIT), MAX_LIMIT);
    return { status: 200, body: { server_groups: groups.slice(offset, offset + limit).map((g) => this.serverGroupBody(ctx, g)) } };
  }

  private createServerGroup(ctx: Ctx): SimResponse {
    const body = checkObject('server_group', (ctx.req.body as { server_group?: unknown } | undefined)?.server_group, {
      name: isString(255),
      policy: (v) => (typeof v === 'string' && ['affinity', 'anti-affinity', 'soft-affinity', 'soft-anti-affinity'].includes(v) ? null : `${jsonRepr(v)} is not one of ['anti-affinity', 'affinity', 'soft-anti-affinity', 'soft-affinity']`),
      rules: (v) => (typeof v === 'object' && v !== null ? null : `${jsonRepr(v)} is not of type 'object'`),
    }, ['name', 'policy']);
    const rules = (body.rules ?? {}) as { max_server_per_host?: unknown };
    const max = rules.max_server_per_host;
    if (max !== undefined && body.policy !== 'anti-affinity') throw novaError(400, 'Only anti-affinity policy supports rules.');
    const g: SimServerGroup = {
      id: this.world.rng.uuid(), name: body.name as string, policy: body.policy as SimServerGroup['policy'], members: [],
      projectId: ctx.token.projectId, userId: ctx.token.userId, ...(max !== undefined ? { maxServerPerHost: Number(max) } : {}),
    };
    this.world.serverGroups.push(g);
    return { status: 200, body: { server_group: this.serverGroupBody(ctx, g) } };
  }

  // ------------------------------------------------------------------ servers

  private findServer(ctx: Ctx, id: string): SimServer {
    const s = this.world.servers.get(id);
    if (!s || (!ctx.admin && s.projectId !== ctx.token.projectId)) throw novaError(404, `Instance ${id} could not be found.`);
    return s;
  }

  private hostId(projectId: string, host: string | null): string {
    if (!host) return '';
    const key = `${projectId}${host}`;
    let v = this.hostIdCache.get(key);
    if (v === undefined) {
      v = createHash('sha224').update(key).digest('hex');
      this.hostIdCache.set(key, v);
    }
    return v;
  }

  private flavorLinks(ctx: Ctx, f: Flavor) {
    return [
      { rel: 'self', href: `${ctx.prefix}/flavors/${f.id}` },
      { rel: 'bookmark', href: `${this.base}/compute/flavors/${f.id}` },
    ];
  }

  private flavorBody(ctx: Ctx, f: Flavor) {
    return {
      id: f.id, name: f.name, ram: f.ram, disk: f.disk, vcpus: f.vcpus, 'OS-FLV-EXT-DATA:ephemeral': 0,
      'OS-FLV-DISABLED:disabled': false, swap: ctx.v >= mv('2.75') ? 0 : '', rxtx_factor: 1.0,
      'os-flavor-access:is_public': true, links: this.flavorLinks(ctx, f),
      ...(ctx.v >= mv('2.55') ? { description: null } : {}), ...(ctx.v >= mv('2.61') ? { extra_specs: { ...f.extraSpecs } } : {}),
    };
  }

  private hostStatus(h: SimHost | undefined): string {
    if (!h) return '';
    if (h.forcedDown) return 'DOWN';
    if (this.world.serviceUp(h)) return h.disabled ? 'MAINTENANCE' : 'UP';
    return 'UNKNOWN';
  }

  /** GET /servers/{id}/os-volume_attachments: `tag` from 2.70, `delete_on_termination` from 2.79, `attachment_id` and `bdm_uuid` instead of `id` from 2.89. */
  private volumeAttachments(ctx: Ctx, id: string): SimResponse {
    const s = this.findServer(ctx, id);
    const v = ctx.v;
    const volumeAttachments = (s.volumes ?? []).map((x) => ({
      ...(v < mv('2.89') ? { id: x.id } : {}),
      device: x.device, serverId: s.id, volumeId: x.id,
      ...(v >= mv('2.70') ? { tag: null } : {}),
      ...(v >= mv('2.79') ? { delete_on_termination: x.bootable } : {}),
      ...(v >= mv('2.89') ? { attachment_id: x.attachmentId, bdm_uuid: x.bdmUuid } : {}),
    }));
    return { status: 200, body: { volumeAttachments } };
  }

  private serverLinks(ctx: Ctx, s: SimServer) {
    return [
      { rel: 'self', href: `${ctx.prefix}/servers/${s.id}` },
      { rel: 'bookmark', href: `${this.base}/compute/servers/${s.id}` },
    ];
  }

  private serverBody(ctx: Ctx, s: SimServer): Record<string, unknown> {
    const v = ctx.v;
    const addresses: Record<string, unknown[]> = {};
    for (const a of s.addresses) {
      (addresses[a.network] ??= []).push({ version: 4, addr: a.addr, 'OS-EXT-IPS:type': a.type, 'OS-EXT-IPS-MAC:mac_addr': a.mac });
    }
    const status = this.world.serverStatus(s);
    const flavor = v >= mv('2.47')
      ? { vcpus: s.flavor.vcpus, ram: s.flavor.ram, disk: s.flavor.disk, ephemeral: 0, swap: 0, original_name: s.flavor.name, extra_specs: { ...s.flavor.extraSpecs } }
      : { id: s.flavor.id, links: [{ rel: 'bookmark', href: `${this.base}/compute/flavors/${s.flavor.id}` }] };
    const body: Record<string, unknown> = {
      id: s.id, name: s.name, status, tenant_id: s.projectId, user_id: s.userId, metadata: { ...s.metadata },
      hostId: this.hostId(s.projectId, s.host),
      // A server booted from a volume has no image: Nova answers "".
      image: s.imageId === '' ? '' : { id: s.imageId, links: [{ rel: 'bookmark', href: `${this.base}/compute/images/${s.imageId}` }] },
      // Written by Nova, so on Nova's clock: `changes-since` compares against these.
      flavor, created: isoSeconds(this.world.clock.nova(s.createdAt)), updated: isoSeconds(this.world.clock.nova(s.updatedAt)), addresses,
      accessIPv4: '', accessIPv6: '',
      links: this.serverLinks(ctx, s),
      'OS-DCF:diskConfig': 'MANUAL',
      'OS-EXT-AZ:availability_zone': s.az ?? '',
      config_drive: '', key_name: null,
      'OS-SRV-USG:launched_at': s.launchedAt === null ? null : this.novaTime(s.launchedAt),
      'OS-SRV-USG:terminated_at': s.terminatedAt === undefined ? null : this.novaTime(s.terminatedAt),
      'OS-EXT-STS:task_state': s.taskState, 'OS-EXT-STS:vm_state': s.vmState, 'OS-EXT-STS:power_state': s.powerState,
      'os-extended-volumes:volumes_attached': (s.volumes ?? []).map((x) => (v >= mv('2.3') ? { id: x.id, delete_on_termination: x.bootable } : { id: x.id })),
      security_groups: s.host ? [{ name: 'default' }] : undefined,
    };
    if (status === 'ACTIVE' || status === 'BUILD' || status === 'REBUILD' || status === 'MIGRATING') body.progress = 0;
    if (ctx.admin) {
      body['OS-EXT-SRV-ATTR:host'] = s.host;
      body['OS-EXT-SRV-ATTR:instance_name'] = `instance-${(s.index + 1).toString(16).padStart(8, '0')}`;
      body['OS-EXT-SRV-ATTR:hypervisor_hostname'] = s.host;
      if (v >= mv('2.3')) {
        Object.assign(body, {
          'OS-EXT-SRV-ATTR:reservation_id': `r-${s.id.slice(0, 8)}`, 'OS-EXT-SRV-ATTR:launch_index': 0,
          'OS-EXT-SRV-ATTR:hostname': s.name, 'OS-EXT-SRV-ATTR:kernel_id': '', 'OS-EXT-SRV-ATTR:ramdisk_id': '',
          'OS-EXT-SRV-ATTR:root_device_name': '/dev/vda', 'OS-EXT-SRV-ATTR:user_data': null,
        });
      }
    }
    if (s.fault && (s.vmState === 'error' || status === 'ERROR')) {
      body.fault = { code: s.fault.code, created: isoSeconds(s.fault.created), message: s.fault.message, ...(ctx.admin ? { details: '' } : {}) };
    }
    if (v >= mv('2.9')) body.locked = !!s.lock;
    if (v >= mv('2.16')) body.host_status = this.hostStatus(s.host ? this.world.host(s.host) : undefined);
    if (v >= mv('2.19')) body.description = null;
    if (v >= mv('2.26')) body.tags = [];
    if (v >= mv('2.63')) body.trusted_image_certificates = null;
    if (v >= mv('2.73')) body.locked_reason = s.lock?.reason ?? null;
    if (body.security_groups === undefined) delete body.security_groups;
    return body;
  }

  /** Walks `items` (already in list order) from after the marker, returning up to `limit` and the next marker. */
  private paginate<T>(ctx: Ctx, items: readonly T[], idOf: (t: T) => string, markerParam: string, accept: (t: T) => boolean = () => true): { page: T[]; next: string | null } {
    const q = ctx.req.url.searchParams;
    const limit = this.limit(ctx);
    const marker = q.get(markerParam);
    let start = 0;
    if (marker !== null) {
      const i = items.findIndex((t) => idOf(t) === marker);
      if (i < 0) throw novaError(400, `marker [${marker}] not found`);
      start = i + 1;
    }
    const page: T[] = [];
    for (let i = start; i < items.length && page.length < limit; i++) if (accept(items[i]!)) page.push(items[i]!);
    return { page, next: page.length === limit && limit > 0 ? idOf(page[page.length - 1]!) : null };
  }

  private limit(ctx: Ctx): number {
    const raw = ctx.req.url.searchParams.get('limit');
    if (raw === null) return MAX_LIMIT;
    if (!/^-?\d+$/.test(raw)) throw novaError(400, 'limit param must be an integer');
    const n = Number(raw);
    if (n < 0) throw novaError(400, 'limit param must be positive');
    return Math.min(n, MAX_LIMIT);
  }

  private nextLink(ctx: Ctx, marker: string): string {
    const q = new URLSearchParams(ctx.req.url.searchParams);
    q.set('marker', marker);
    if (!q.has('limit')) q.set('limit', String(MAX_LIMIT));
    return `${this.base}${ctx.req.path.replace(/\/+$/, '')}?${q.toString()}`;
  }

  private listServers(ctx: Ctx, detail: boolean): SimResponse {
    const q = ctx.req.url.searchParams;
    const allTenants = q.has('all_tenants') && !['0', 'false', 'False'].includes(q.get('all_tenants') ?? '');
    if (allTenants) this.requireAdmin(ctx, 'os_compute_api:servers:index:get_all_tenants');
    const host = q.get('host');
    if (host !== null && !ctx.admin) throw novaError(403, "Policy doesn't allow os_compute_api:servers:allow_all_filters to be performed.");
    const project = q.get('project_id') ?? q.get('tenant_id');
    const status = q.get('status')?.toUpperCase() ?? null;
    const nameRe = q.get('name') !== null ? new RegExp(q.get('name')!) : null;
    const ipRe = q.get('ip') !== null ? new RegExp(q.get('ip')!.replace(/\./g, '\\.')) : null;
    // `locked` from 2.73: true/false.
    const locked = ctx.v >= mv('2.73') && q.has('locked') ? ['true', 'True', '1'].includes(q.get('locked') ?? '') : null;
    const limit = this.limit(ctx);
    const marker = q.get('marker');
    const changes = this.changesWindow(ctx);

    const accept = (s: SimServer): boolean => {
      if (!allTenants || project !== null) {
        if (s.projectId !== (allTenants ? project : ctx.token.projectId)) return false;
      }
      if (status !== null && this.world.serverStatus(s) !== status) return false;
      if (nameRe && !nameRe.test(s.name)) return false;
      if (ipRe && !s.addresses.some((a) => ipRe.test(a.addr))) return false;
      if (locked !== null && !!s.lock !== locked) return false;
      return true;
    };

    let page: SimServer[] = [];
    if (changes) {
      // Nova filters on updated_at (its own clock), inclusive at both ends, and then lists deleted servers too.
      const inWindow = (s: SimServer): boolean => {
        const t = this.world.clock.nova(s.updatedAt);
        return (changes.since === null || t >= changes.since) && (changes.before === null || t <= changes.before)
          && (host === null || s.host === host) && accept(s);
      };
      const list: SimServer[] = [];
      for (const all of [this.world.serverList, this.world.deletedServers]) for (const s of all) if (inWindow(s)) list.push(s);
      list.sort((a, b) => b.index - a.index);
      page = this.paginate(ctx, list, (s) => s.id, 'marker').page;
    } else if (host !== null) {
      const h = this.world.host(host);
      const ids = h ? [...h.servers] : [];
      const list = ids.map((id) => this.world.servers.get(id)!).filter((s) => s.host === host).sort((a, b) => b.index - a.index);
      let start = 0;
      if (marker !== null) {
        const ms = this.world.servers.get(marker);
        if (!ms) throw novaError(400, `marker [${marker}] not found`);
        start = list.findIndex((s) => s.index < ms.index);
        if (start < 0) start = list.length;
      }
      for (let i = start; i < list.length && page.length < limit; i++) if (accept(list[i]!)) page.push(list[i]!);
    } else {
      const all = this.world.serverList;
      let i = all.length - 1;
      if (marker !== null) {
        const ms = this.world.servers.get(marker);
        if (!ms) throw novaError(400, `marker [${marker}] not found`);
        i = this.world.positionOf(ms) - 1;
      }
      for (; i >= 0 && page.length < limit; i--) {
        const s = all[i]!;
        if (accept(s)) page.push(s);
      }
    }
    const items = detail ? page.map((s) => this.serverBody(ctx, s)) : page.map((s) => ({ id: s.id, name: s.name, links: this.serverLinks(ctx, s) }));
    const body: Record<string, unknown> = { servers: items };
    if (page.length === limit && limit > 0) body.servers_links = [{ rel: 'next', href: this.nextLink(ctx, page[page.length - 1]!.id) }];
    return { status: 200, body };
  }

  /**
   * `changes-since` (any microversion) and `changes-before` (from 2.66; ignored below it, as Nova's query schema
   * drops unknown parameters) as Nova reads them: ISO 8601, UTC when no zone is given. Null when neither is given.
   */
  private changesWindow(ctx: Ctx): { since: number | null; before: number | null } | null {
    const q = ctx.req.url.searchParams;
    const read = (name: string): number | null => {
      const raw = q.get(name);
      if (raw === null) return null;
      const t = parseIsoTime(raw);
      if (t === null) throw novaError(400, `Invalid input for query parameters ${name}. Value: ${raw}. '${raw}' is not a 'date-time'`);
      return t;
    };
    const since = read('changes-since');
    const before = ctx.v >= mv('2.66') ? read('changes-before') : null;
    if (since === null && before === null) return null;
    if (since !== null && before !== null && since > before) {
      throw novaError(400, 'The value of changes-since must be less than or equal to changes-before.');
    }
    return { since, before };
  }

  private serverAction(ctx: Ctx, id: string): SimResponse {
    const s = this.findServer(ctx, id);
    const body = ctx.req.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw novaError(400, 'Malformed request body');
    const keys = Object.keys(body);
    const action = keys[0];
    if (keys.length !== 1 || action === undefined) throw novaError(400, 'Malformed request body');
    const payload = (body as Record<string, unknown>)[action];
    if (action === 'evacuate') return this.evacuate(ctx, s, payload);
    if (action === 'os-migrateLive') return this.liveMigrate(ctx, s, payload);
    if (action === 'reboot') return this.reboot(ctx, s, payload);
    if (action === 'os-resetState') return this.resetState(ctx, s, payload);
    if (action === 'lock') return this.lock(ctx, s, payload);
    if (action === 'unlock') {
      this.world.unlock(s);
      return { status: 202, rawBody: '' };
    }
    if (['os-stop', 'os-start', 'pause', 'unpause', 'suspend', 'resume', 'rescue', 'unrescue', 'shelve'].includes(action)) {
      // Owners may not act on a locked server; admins may (Nova's lock policy).
      if (s.lock && !ctx.admin) throw novaError(409, `Instance ${s.id} is locked`);
      this.world.powerAction(s, action);
      return action === 'rescue' ? { status: 200, body: { adminPass: randomBytes(9).toString('base64url') } } : { status: 202, rawBody: '' };
    }
    throw novaError(400, `There is no such action: ${action}`);
  }

  private evacuate(ctx: Ctx, s: SimServer, payload: unknown): SimResponse {
    this.requireAdmin(ctx, 'os_compute_api:os-evacuate');
    const v = ctx.v;
    const props: Record<string, (x: unknown) => string | null> = { host: isHostname, adminPass: isString(255) };
    const required: string[] = [];
    if (v < mv('2.14')) {
      props.onSharedStorage = isBool;
      required.push('onSharedStorage');
    }
    if (v >= mv('2.29') && v < mv('2.68')) props.force = isBool;
    const body = checkObject('evacuate', payload, props, required);
    const host = (body.host as string | undefined) ?? null;
    let force = false;
    if (v >= mv('2.29') && v < mv('2.68')) {
      force = body.force === true;
      if (force && host === null) throw novaError(400, "Can't force to a non-provided destination");
    } else if (v < mv('2.29')) {
      force = host !== null; // before 2.29 a named host bypasses the scheduler
    }
    const onShared = body.onSharedStorage === true;
    if (onShared && typeof body.adminPass === 'string') throw novaError(400, "admin password can't be changed on existing disk");
    this.world.evacuate(s, { host, force }, { userId: ctx.token.userId, projectId: ctx.token.projectId });
    if (v < mv('2.14') && !onShared) {
      return { status: 200, body: { adminPass: typeof body.adminPass === 'string' ? body.adminPass : randomBytes(9).toString('base64url') } };
    }
    return { status: 200, rawBody: '' };
  }

  private resetState(ctx: Ctx, s: SimServer, payload: unknown): SimResponse {
    this.requireAdmin(ctx, 'os_compute_api:os-admin-actions:reset_state');
    const body = checkObject('os-resetState', payload, { state: (x) => (x === 'active' || x === 'error' ? null : `${jsonRepr(x)} is not one of ['active', 'error']`) }, ['state']);
    this.world.resetState(s, body.state as 'active' | 'error');
    return { status: 202, rawBody: '' };
  }

  private lock(ctx: Ctx, s: SimServer, payload: unknown): SimResponse {
    // From 2.73 the body may carry a reason (up to 255 characters); before, it must be null.
    if (ctx.v >= mv('2.73') && payload !== null) {
      const body = checkObject('lock', payload, { locked_reason: isString(255) }, []);
      this.world.lock(s, (body.locked_reason as string | undefined) ?? null);
    } else {
      if (payload !== null) throw novaError(400, `Invalid input for field/attribute lock. Value: ${jsonRepr(payload)}. ${jsonRepr(payload)} is not of type 'null'`);
      this.world.lock(s, null);
    }
    return { status: 202, rawBody: '' };
  }

  private reboot(ctx: Ctx, s: SimServer, payload: unknown): SimResponse {
    const body = checkObject('reboot', payload, { type: (x) => (x === 'HARD' || x === 'SOFT' || x === 'hard' || x === 'soft' ? null : `${jsonRepr(x)} is not one of ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft']`) }, ['type']);
    this.world.reboot(s, String(body.type).toUpperCase() as 'HARD' | 'SOFT', { userId: ctx.token.userId, projectId: ctx.token.projectId });
    return { status: 202, rawBody: '' };
  }

  private liveMigrate(ctx: Ctx, s: SimServer, payload: unknown): SimResponse {
    this.requireAdmin(ctx, 'os_compute_api:os-migrate-server:migrate_live');
    const v = ctx.v;
    const nullableHost = (x: unknown) => (x === null ? null : isHostname(x));
    const props: Record<string, (x: unknown) => string | null> = { host: nullableHost };
    if (v < mv('2.25')) {
      props.block_migration = isBool;
      props.disk_over_commit = isBool;
    } else {
      props.block_migration = (x) => (typeof x === 'boolean' || x === 'auto' ? null : `${jsonRepr(x)} is not valid under any of the given schemas`);
    }
    if (v >= mv('2.30') && v < mv('2.68')) props.force = isBool;
    const required = v < mv('2.25') ? ['host', 'block_migration', 'disk_over_commit'] : ['host', 'block_migration'];
    const body = checkObject('os-migrateLive', payload, props, required);
    const host = (body.host as string | null) ?? null;
    const force = v >= mv('2.30') && v < mv('2.68') ? body.force === true : v < mv('2.30') && host !== null;
    if (force && host === null) throw novaError(400, "Can't force to a non-provided destination");
    this.world.liveMigrate(s, { host, force, sync: v < mv('2.34') }, { userId: ctx.token.userId, projectId: ctx.token.projectId });
    return { status: 202, rawBody: '' };
  }

  // ------------------------------------------------------------------ actions and migrations

  private listActions(ctx: Ctx, id: string): SimResponse {
    const s = this.findServer(ctx, id);
    const actions = [...s.actions].reverse().map((a) => ({
      action: a.action, instance_uuid: s.id, message: a.message, project_id: a.projectId, request_id: a.requestId,
      start_time: this.novaTime(a.startTime), user_id: a.userId, ...(ctx.v >= mv('2.58') ? { updated_at: this.novaTime(a.updatedAt) } : {}),
    }));
    return { status: 200, body: { instanceActions: actions } };
  }

  private showAction(ctx: Ctx, id: string, requestId: string): SimResponse {
    const s = this.findServer(ctx, id);
    const a = s.actions.find((x) => x.requestId === requestId);
    if (!a) throw novaError(404, `Action for request_id ${requestId} on instance ${id} not found`);
    return {
      status: 200,
      body: {
        instanceAction: {
          action: a.action, instance_uuid: s.id, message: a.message, project_id: a.projectId, request_id: a.requestId,
          start_time: this.novaTime(a.startTime), user_id: a.userId, ...(ctx.v >= mv('2.58') ? { updated_at: this.novaTime(a.updatedAt) } : {}),
          events: a.events.map((e) => ({
            event: e.event, start_time: this.novaTime(e.startTime), finish_time: e.finishTime === null ? null : this.novaTime(e.finishTime),
            result: e.result, ...(ctx.admin ? { traceback: e.result === 'Error' ? 'Traceback (most recent call last): ...' : null } : {}),
            ...(ctx.v >= mv('2.62') ? { hostId: this.hostId(a.projectId, e.host), ...(ctx.admin ? { host: e.host } : {}) } : {}),
          })),
        },
      },
    };
  }

  private migrationBody(ctx: Ctx, m: SimMigration) {
    const flavorId = Number(m.flavorId);
    const body: Record<string, unknown> = {
      created_at: this.novaTime(m.createdAt), dest_compute: m.destCompute, dest_host: m.destHost, dest_node: m.destNode,
      id: m.id, instance_uuid: m.instanceUuid, new_instance_type_id: flavorId, old_instance_type_id: flavorId,
      source_compute: m.sourceCompute, source_node: m.sourceNode, status: m.status, updated_at: this.novaTime(m.updatedAt),
    };
    if (ctx.v >= mv('2.23')) {
      body.migration_type = m.migrationType;
      if (m.migrationType === 'live-migration' && ['queued', 'preparing', 'running'].includes(m.status)) {
        body.links = [
          { rel: 'self', href: `${ctx.prefix}/servers/${m.instanceUuid}/migrations/${m.id}` },
          { rel: 'bookmark', href: `${this.base}/compute/servers/${m.instanceUuid}/migrations/${m.id}` },
        ];
      }
    }
    if (ctx.v >= mv('2.59')) body.uuid = m.uuid;
    if (ctx.v >= mv('2.80')) {
      body.user_id = m.userId;
      body.project_id = m.projectId;
    }
    return body;
  }

  private listMigrations(ctx: Ctx): SimResponse {
    this.requireAdmin(ctx, 'os_compute_api:os-migrations:index');
    const q = ctx.req.url.searchParams;
    const type = q.get('migration_type');
    const instance = q.get('instance_uuid');
    const host = q.get('host');
    const status = q.get('status');
    const source = q.get('source_compute');
    const pool = instance !== null ? this.world.migrationsByInstance.get(instance) ?? [] : this.world.migrations;
    const filtered = pool
      .filter((m) => (type === null || m.migrationType === type)
        && (host === null || m.sourceCompute === host || m.destCompute === host)
        && (status === null || m.status === status)
        && (source === null || m.sourceCompute === source))
      .sort((a, b) => b.createdAt - a.createdAt || b.id - a.id);
    if (ctx.v >= mv('2.59')) {
      const { page, next } = this.paginate(ctx, filtered, (m) => m.uuid, 'marker');
      return {
        status: 200,
        body: { migrations: page.map((m) => this.migrationBody(ctx, m)), ...(next ? { migrations_links: [{ rel: 'next', href: this.nextLink(ctx, next) }] } : {}) },
      };
    }
    return { status: 200, body: { migrations: filtered.map((m) => this.migrationBody(ctx, m)) } };
  }

  /** In-progress live migrations of one server (2.23+). */
  private serverMigrations(ctx: Ctx, id: string): SimResponse {
    this.requireAdmin(ctx, 'os_compute_api:servers:migrations:index');
    if (ctx.v < mv('2.23')) throw novaError(404, 'The resource could not be found.');
    const s = this.findServer(ctx, id);
    const live = (this.world.migrationsByInstance.get(s.id) ?? [])
      .filter((x) => x.migrationType === 'live-migration' && ['queued', 'preparing', 'running'].includes(x.status));
    return {
      status: 200,
      body: {
        migrations: live.map((x) => ({
          id: x.id, server_uuid: s.id, source_compute: x.sourceCompute, source_node: x.sourceNode, dest_compute: x.destCompute,
          dest_node: x.destNode, dest_host: x.destHost, status: x.status, created_at: this.novaTime(x.createdAt), updated_at: this.novaTime(x.updatedAt),
          memory_total_bytes: s.flavor.ram * 1048576, memory_processed_bytes: 0, memory_remaining_bytes: s.flavor.ram * 1048576,
          disk_total_bytes: 0, disk_processed_bytes: 0, disk_remaining_bytes: 0,
          ...(ctx.v >= mv('2.59') ? { uuid: x.uuid } : {}), ...(ctx.v >= mv('2.80') ? { user_id: x.userId, project_id: x.projectId } : {}),
        })),
      },
    };
  }

  private availabilityZones(ctx: Ctx, detail: boolean): SimResponse {
    if (detail) this.requireAdmin(ctx, 'os_compute_api:os-availability-zone:detail');
    const zones = new Map<string, SimHost[]>();
    for (const h of this.world.hostList) {
      const az = this.world.hostAz(h);
      let l = zones.get(az);
      if (!l) zones.set(az, (l = []));
      l.push(h);
    }
    const info: unknown[] = [];
    if (detail) {
      info.push({
        zoneName: 'internal', zoneState: { available: true },
        hosts: { controller: Object.fromEntries(this.world.controlServices.map((s) => [s.binary, { available: true, active: true, updated_at: this.novaTime(this.world.now()) }])) },
      });
    }
    for (const [zone, hosts] of zones) {
      const up = hosts.some((h) => this.world.serviceUp(h) && !h.disabled);
      info.push({
        zoneName: zone, zoneState: { available: up },
        hosts: detail
          ? Object.fromEntries(hosts.map((h) => {
            const u = this.world.serviceUpdatedAt(h);
            return [h.name, { 'nova-compute': { available: this.world.serviceUp(h), active: !h.disabled, updated_at: u === null ? null : this.novaTime(u) } }];
          }))
          : null,
      });
    }
    return { status: 200, body: { availabilityZoneInfo: info } };
  }
}
