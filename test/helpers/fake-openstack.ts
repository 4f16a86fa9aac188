import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

// A loopback Keystone + Nova that answers the way the real ones do (nova-facts.md): 201 and X-Subject-Token,
// a catalog, version documents, OpenStack-API-Version echo, pagination links, Nova error bodies and request
// ids, 401 for revoked tokens, and faults (status codes, connection resets, hangs) on demand. Placement (resource
// providers, inventories, usages) is served at /placement with its version document and error bodies.

export type FakeService = 'keystone' | 'nova' | 'placement';

export interface RecordedCall {
  readonly service: FakeService;
  readonly method: string;
  /** Path below the service prefix, e.g. `/servers/detail`. */
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: unknown;
  readonly rawBody: string;
  /** Microversion the call was served at (Nova and Placement). */
  readonly microversion?: string;
}

export type Fault =
  | { readonly status: number; readonly body?: unknown; /** Sent as is instead of `body` (a body that is not JSON). */ readonly raw?: string }
  | { readonly reset: true }
  | { readonly hang: true };

interface FaultRule {
  readonly service: FakeService;
  readonly method: string;
  readonly path: string | RegExp;
  readonly fault: Fault;
  remaining: number;
}

export interface FakeCredentials {
  readonly userId: string;
  readonly username: string;
  readonly userDomain: string;
  readonly password: string;
  readonly projectId: string;
  readonly projectName: string;
  readonly projectDomain: string;
  readonly appCredId: string;
  readonly appCredName: string;
  readonly appCredSecret: string;
}

export interface FakeOpenStackOptions {
  /** Highest microversion the fake Nova supports (default 2.93). */
  readonly novaMaxVersion?: string;
  /** Token lifetime announced in `expires_at` (default one hour). */
  readonly tokenLifetimeMs?: number;
  /** Nova's `api.max_limit`: a page never holds more (default 1000). */
  readonly maxLimit?: number;
  /** Base of pagination links, as a Nova behind a proxy builds them (default: the real compute URL). */
  readonly linkBase?: string;
  /** Regions to publish the compute endpoint in (default RegionOne). */
  readonly regions?: readonly string[];
  /** Catalog without a compute service at all. */
  readonly noCompute?: boolean;
  /** Delay before answering a token request, so concurrent callers overlap. */
  readonly authDelayMs?: number;
  /** Serve HTTPS with this key and certificate (PEM). */
  readonly tls?: { readonly key: string; readonly cert: string };
  /** Catalog without a placement service (clouds before Newton, or a catalog that hides it). */
  readonly noPlacement?: boolean;
  /** Highest Placement microversion (default 1.39, as in Zed). */
  readonly placementMaxVersion?: string;
}

/** A resource provider as the fake Placement holds it: inventories and usages per resource class, as the API spells them. */
export interface FakeProvider {
  readonly uuid: string;
  readonly name: string;
  generation: number;
  readonly inventories: Record<string, { total: number; reserved?: number; allocation_ratio?: number; max_unit?: number; min_unit?: number; step_size?: number }>;
  readonly usages: Record<string, number>;
}

const DEFAULT_CREDS: FakeCredentials = {
  userId: 'u-0001',
  username: 'cmpha',
  userDomain: 'Default',
  password: 'pa55-w0rd-sekrit',
  projectId: 'p-0001',
  projectName: 'service',
  projectDomain: 'Default',
  appCredId: 'ac-0001',
  appCredName: 'cmpha-ha',
  appCredSecret: 'app-cred-sekrit-value',
};

const NOVA_ERROR_KEYS: Record<number, string> = {
  400: 'badRequest', 403: 'forbidden', 404: 'itemNotFound', 409: 'conflictingRequest', 500: 'computeFault', 503: 'serviceUnavailable',
};

function versionNumber(v: string): [number, number] {
  const [a, b] = v.split('.').map(Number);
  return [a ?? 0, b ?? 0];
}

function atLeast(v: string, min: string): boolean {
  const [a, b] = versionNumber(v);
  const [c, d] = versionNumber(min);
  return a !== c ? a > c : b >= d;
}

export class FakeOpenStack {
  readonly creds: FakeCredentials;
  readonly calls: RecordedCall[] = [];
  readonly services: Record<string, unknown>[] = [];
  readonly hypervisors: Record<string, unknown>[] = [];
  readonly servers: Record<string, unknown>[] = [];
  readonly migrations: Record<string, unknown>[] = [];
  readonly aggregates: Record<string, unknown>[] = [];
  readonly users: Record<string, unknown>[] = [];
  readonly providers: FakeProvider[] = [];
  /** When false, every token is refused (a revoked user, a broken Keystone). */
  acceptTokens = true;
  /** When set, GET /v3/users answers 403 (a token without identity:get_user). */
  forbidUsers = false;
  novaMaxVersion: string;

  readonly #opts: FakeOpenStackOptions;
  readonly #server: http.Server;
  readonly #valid = new Set<string>();
  readonly #faults: FaultRule[] = [];
  #base = '';

  constructor(opts: FakeOpenStackOptions = {}, creds: Partial<FakeCredentials> = {}) {
    this.#opts = opts;
    this.creds = { ...DEFAULT_CREDS, ...creds };
    this.novaMaxVersion = opts.novaMaxVersion ?? '2.93';
    const listener = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.#handle(req, res, Buffer.concat(chunks).toString('utf8')).catch((err: unknown) => {
          if (!res.headersSent) this.#json(res, 500, { error: { code: 500, message: String(err) } });
        });
      });
    };
    this.#server = opts.tls ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert }, listener) : http.createServer(listener);
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const { port } = this.#server.address() as AddressInfo;
    this.#base = `${this.#opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    return this;
  }

  async close(): Promise<void> {
    if (!this.#server.listening) return;
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  get baseUrl(): string {
    return this.#base;
  }

  get authUrl(): string {
    return `${this.#base}/identity/v3`;
  }

  get computeUrl(): string {
    return `${this.#base}/compute/v2.1`;
  }

  /** Every token issued so far is revoked (as when the service user's password changes). */
  revokeTokens(): void {
    this.#valid.clear();
  }

  /** The next `times` matching requests get `fault` instead of an answer. */
  fail(service: FakeService, method: string, path: string | RegExp, fault: Fault, times = 1): void {
    this.#faults.push({ service, method, path, fault, remaining: times });
  }

  callsTo(service: FakeService, method?: string, path?: string | RegExp): RecordedCall[] {
    return this.calls.filter((c) => c.service === service && (method === undefined || c.method === method)
      && (path === undefined || (typeof path === 'string' ? c.path === path : path.test(c.path))));
  }

  get authCalls(): RecordedCall[] {
    return this.callsTo('keystone', 'POST', '/auth/tokens');
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse, rawBody: string): Promise<void> {
    const url = new URL(req.url ?? '/', this.#base);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
    let body: unknown;
    try {
      body = rawBody ? JSON.parse(rawBody) : undefined;
    } catch {
      body = undefined;
    }
    const query = Object.fromEntries(url.searchParams.entries());
    const method = req.method ?? 'GET';
    if (url.pathname.startsWith('/identity')) {
      const path = url.pathname.slice('/identity/v3'.length) || '/';
      this.calls.push({ service: 'keystone', method, path, query, headers, body, rawBody });
      if (this.#applyFault(res, 'keystone', method, path, 'keystone')) return;
      return this.#keystone(res, method, path, headers, body);
    }
    if (url.pathname.startsWith('/compute')) {
      const rest = url.pathname.slice('/compute'.length);
      if (rest === '' || rest === '/') {
        this.calls.push({ service: 'nova', method, path: '/', query, headers, body, rawBody });
        return this.#json(res, 200, { versions: [this.#versionDoc('v2.0', '', ''), this.#versionDoc('v2.1', this.novaMaxVersion, '2.1')] });
      }
      const path = rest.slice('/v2.1'.length) || '/';
      const asked = /^compute (\S+)$/.exec(headers['openstack-api-version'] ?? '')?.[1];
      const microversion = asked ?? '2.1';
      this.calls.push({ service: 'nova', method, path, query, headers, body, rawBody, microversion });
      if (this.#applyFault(res, 'nova', method, path, 'nova')) return;
      if (path === '/') return this.#json(res, 200, { version: this.#versionDoc('v2.1', this.novaMaxVersion, '2.1') });
      if (!this.acceptTokens || !this.#valid.has(headers['x-auth-token'] ?? '')) {
        return this.#json(res, 401, { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } });
      }
      if (!atLeast(this.novaMaxVersion, microversion)) {
        return this.#novaError(res, 406, `Version ${microversion} is not supported by the API. Minimum is 2.1 and maximum is ${this.novaMaxVersion}.`);
      }
      return this.#nova(res, method, path, query, body, microversion);
    }
    if (url.pathname.startsWith('/placement')) {
      const path = url.pathname.slice('/placement'.length) || '/';
      const asked = /^placement (\S+)$/.exec(headers['openstack-api-version'] ?? '')?.[1];
      const microversion = asked ?? '1.0';
      this.calls.push({ service: 'placement', method, path, query, headers, body, rawBody, microversion });
      if (this.#applyFault(res, 'placement', method, path, 'placement')) return;
      return this.#placement(res, method, path, query, headers, microversion);
    }
    this.#json(res, 404, { message: 'not found' });
  }

  get placementUrl(): string {
    return `${this.#base}/placement`;
  }

  /** Placement as Zed answers: version document without a token, `{"errors": [...]}` bodies, the version echoed. */
  #placement(res: http.ServerResponse, method: string, path: string, query: Record<string, string>, headers: Record<string, string>, mv: string): void {
    const max = this.#opts.placementMaxVersion ?? '1.39';
    if (path === '/') {
      return this.#json(res, 200, { versions: [{ id: 'v1.0', max_version: max, min_version: '1.0', status: 'CURRENT', links: [{ rel: 'self', href: '' }] }] });
    }
    if (!this.acceptTokens || !this.#valid.has(headers['x-auth-token'] ?? '')) {
      return this.#json(res, 401, { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } });
    }
    if (!atLeast(max, mv)) return this.#placementError(res, 406, `Unacceptable version header: ${mv}`, mv);
    let m: RegExpExecArray | null;
    if (method === 'GET' && path === '/resource_providers') {
      const list = this.providers.filter((p) => (!query.name || p.name === query.name) && (!query.uuid || p.uuid === query.uuid));
      return this.#json(res, 200, {
        resource_providers: list.map((p) => ({
          uuid: p.uuid, name: p.name, generation: p.generation, parent_provider_uuid: null, root_provider_uuid: p.uuid,
          links: [{ rel: 'self', href: `/placement/resource_providers/${p.uuid}` }],
        })),
      }, undefined, mv);
    }
    if (method === 'GET' && (m = /^\/resource_providers\/([^/]+)\/(inventories|usages)$/.exec(path))) {
      const p = this.providers.find((x) => x.uuid === decodeURIComponent(m![1]!));
      if (!p) return this.#placementError(res, 404, `No resource provider with uuid ${m[1]} found`, mv);
      if (m[2] === 'usages') return this.#json(res, 200, { usages: p.usages, resource_provider_generation: p.generation }, undefined, mv);
      const inventories = Object.fromEntries(Object.entries(p.inventories).map(([rc, i]) => [rc, {
        allocation_ratio: 1.0, max_unit: i.total, min_unit: 1, reserved: 0, step_size: 1, ...i,
      }]));
      return this.#json(res, 200, { inventories, resource_provider_generation: p.generation }, undefined, mv);
    }
    this.#placementError(res, 404, 'The resource could not be found.', mv);
  }

  #placementError(res: http.ServerResponse, status: number, detail: string, mv: string): void {
    const title = status === 404 ? 'Not Found' : status === 406 ? 'Not Acceptable' : status === 403 ? 'Forbidden' : 'Error';
    this.#json(res, status, { errors: [{ status, title, detail, code: 'placement.undefined_code', request_id: `req-${randomUUID()}` }] }, undefined, mv);
  }

  #applyFault(res: http.ServerResponse, service: FakeService, method: string, path: string, kind: FakeService): boolean {
    const rule = this.#faults.find((f) => f.remaining > 0 && f.service === service && f.method === method
      && (typeof f.path === 'string' ? f.path === path : f.path.test(path)));
    if (!rule) return false;
    rule.remaining--;
    const fault = rule.fault;
    if ('reset' in fault) {
      res.socket?.destroy();
      return true;
    }
    if ('hang' in fault) return true;
    if (fault.raw !== undefined) res.writeHead(fault.status, { 'Content-Type': 'application/json' }).end(fault.raw);
    else if (fault.body !== undefined) this.#json(res, fault.status, fault.body);
    else if (kind === 'placement') this.#placementError(res, fault.status, 'Unexpected error.', '1.0');
    else if (kind === 'nova') this.#novaError(res, fault.status, 'Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and attach the Nova API log if possible.');
    else this.#json(res, fault.status, { error: { code: fault.status, title: 'Error', message: 'An unexpected error prevented the server from fulfilling your request.' } });
    return true;
  }

  #versionDoc(id: string, version: string, min: string): Record<string, unknown> {
    return {
      id, status: id === 'v2.1' ? 'CURRENT' : 'SUPPORTED', version, min_version: min, updated: '2013-07-23T11:33:21Z',
      links: [{ rel: 'self', href: `${this.#base}/compute/${id}/` }],
    };
  }

  async #keystone(res: http.ServerResponse, method: string, path: string, headers: Record<string, string>, body: unknown): Promise<void> {
    if (method === 'POST' && path === '/auth/tokens') {
      if (this.#opts.authDelayMs) await new Promise((r) => setTimeout(r, this.#opts.authDelayMs));
      if (!this.#credentialsOk(body)) {
        return this.#json(res, 401, { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } });
      }
      const token = `gAAAAA${randomBytes(90).toString('base64url')}`;
      this.#valid.add(token);
      const expires = new Date(Date.now() + (this.#opts.tokenLifetimeMs ?? 3_600_000)).toISOString().replace('Z', '000Z');
      res.setHeader('X-Subject-Token', token);
      return this.#json(res, 201, {
        token: {
          methods: ['password'], expires_at: expires, issued_at: new Date().toISOString(),
          user: { id: this.creds.userId, name: this.creds.username, domain: { id: 'default', name: 'Default' } },
          project: { id: this.creds.projectId, name: this.creds.projectName, domain: { id: 'default', name: 'Default' } },
          catalog: this.#catalog(),
        },
      });
    }
    if (!this.acceptTokens || !this.#valid.has(headers['x-auth-token'] ?? '')) {
      return this.#json(res, 401, { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } });
    }
    const user = /^\/users\/([^/]+)$/.exec(path);
    if (method === 'GET' && user) {
      if (this.forbidUsers) {
        return this.#json(res, 403, { error: { code: 403, title: 'Forbidden', message: 'You are not authorized to perform the requested action: identity:get_user.' } });
      }
      const found = this.users.find((u) => u.id === decodeURIComponent(user[1]!));
      if (!found) return this.#json(res, 404, { error: { code: 404, title: 'Not Found', message: `Could not find user: ${user[1]}.` } });
      return this.#json(res, 200, { user: found });
    }
    this.#json(res, 404, { error: { code: 404, title: 'Not Found', message: 'The resource could not be found.' } });
  }

  #credentialsOk(body: unknown): boolean {
    const identity = (body as { auth?: { identity?: Record<string, unknown> } })?.auth?.identity;
    const methods = identity?.methods;
    const c = this.creds;
    if (Array.isArray(methods) && methods[0] === 'password') {
      const user = (identity?.password as { user?: Record<string, unknown> })?.user ?? {};
      const domain = user.domain as { name?: string; id?: string } | undefined;
      const who = user.id === c.userId || (user.name === c.username && (domain?.name === c.userDomain || domain?.id === 'default'));
      return who && user.password === c.password;
    }
    if (Array.isArray(methods) && methods[0] === 'application_credential') {
      const cred = (identity?.application_credential ?? {}) as Record<string, unknown>;
      const who = cred.id === c.appCredId || (cred.name === c.appCredName && cred.user !== undefined);
      return who && cred.secret === c.appCredSecret;
    }
    return false;
  }

  #catalog(): unknown[] {
    const regions = this.#opts.regions ?? ['RegionOne'];
    const catalog: unknown[] = [{
      type: 'identity', name: 'keystone', id: 'svc-identity',
      endpoints: ['public', 'internal', 'admin'].map((i) => ({ id: `ep-id-${i}`, interface: i, region: regions[0], region_id: regions[0], url: `${this.#base}/identity` })),
    }];
    if (!this.#opts.noCompute) {
      catalog.push({
        type: 'compute', name: 'nova', id: 'svc-compute',
        endpoints: regions.flatMap((r) => ['public', 'internal'].map((i) => ({
          id: `ep-c-${r}-${i}`, interface: i, region: r, region_id: r,
          // Regions other than the first point at a path nothing answers, so a wrong pick shows.
          url: r === regions[0] ? this.computeUrl : `${this.#base}/compute-${r}/v2.1`,
        }))),
      });
    }
    if (!this.#opts.noPlacement) {
      catalog.push({
        type: 'placement', name: 'placement', id: 'svc-placement',
        endpoints: ['public', 'internal'].map((i) => ({ id: `ep-p-${i}`, interface: i, region: regions[0], region_id: regions[0], url: this.placementUrl })),
      });
    }
    catalog.push({ type: 'image', name: 'glance', id: 'svc-image', endpoints: [{ id: 'ep-img', interface: 'public', region: regions[0], region_id: regions[0], url: `${this.#base}/image` }] });
    return catalog;
  }

  #nova(res: http.ServerResponse, method: string, path: string, query: Record<string, string>, body: unknown, mv: string): void {
    let m: RegExpExecArray | null;
    if (method === 'GET' && path === '/os-services') {
      const list = this.services.filter((s) => (!query.binary || s.binary === query.binary) && (!query.host || s.host === query.host));
      return this.#json(res, 200, { services: list }, mv);
    }
    if (method === 'PUT' && (m = /^\/os-services\/([^/]+)$/.exec(path))) {
      if (!atLeast(mv, '2.53')) return this.#novaError(res, 404, 'The resource could not be found.', mv);
      const svc = this.services.find((s) => s.id === m![1]);
      if (!svc) return this.#novaError(res, 404, `Service id ${m[1]} refers to a non-existent service.`, mv);
      const b = (body ?? {}) as Record<string, unknown>;
      if (b.status !== undefined) svc.status = b.status;
      if (b.disabled_reason !== undefined) svc.disabled_reason = b.disabled_reason;
      if (b.forced_down !== undefined) {
        svc.forced_down = b.forced_down;
        if (b.forced_down === true) svc.state = 'down';
      }
      svc.updated_at = new Date().toISOString().replace('Z', '');
      return this.#json(res, 200, { service: svc }, mv);
    }
    if (method === 'GET' && path === '/os-hypervisors/detail') {
      const items = this.hypervisors.map((h) => {
        if (!atLeast(mv, '2.88')) return h;
        const { vcpus: _v, vcpus_used: _vu, memory_mb: _m, memory_mb_used: _mu, ...rest } = h;
        return rest;
      });
      return this.#page(res, items, query, 'hypervisors', '/os-hypervisors/detail', mv);
    }
    if (method === 'GET' && path === '/os-aggregates') return this.#json(res, 200, { aggregates: this.aggregates }, mv);
    if (method === 'POST' && (m = /^\/os-aggregates\/([^/]+)\/action$/.exec(path))) {
      const agg = this.aggregates.find((a) => String(a.id) === m![1]);
      if (!agg) return this.#novaError(res, 404, `Aggregate ${m[1]} could not be found.`, mv);
      const host = (body as { add_host?: { host?: string } })?.add_host?.host;
      const hosts = agg.hosts as string[];
      if (host === undefined) return this.#novaError(res, 400, 'Invalid input for field/attribute add_host.', mv);
      if (hosts.includes(host)) return this.#novaError(res, 409, `Cannot add host ${host} in aggregate ${m[1]}: host exists`, mv);
      hosts.push(host);
      return this.#json(res, 200, { aggregate: agg }, mv);
    }
    if (method === 'GET' && path === '/servers/detail') {
      const list = this.servers.filter((s) => !query.host || s['OS-EXT-SRV-ATTR:host'] === query.host);
      return this.#page(res, list, query, 'servers', '/servers/detail', mv);
    }
    if (method === 'GET' && (m = /^\/servers\/([^/]+)$/.exec(path))) {
      const srv = this.servers.find((s) => s.id === m![1]);
      if (!srv) return this.#novaError(res, 404, `Instance ${m[1]} could not be found.`, mv);
      return this.#json(res, 200, { server: srv }, mv);
    }
    if (method === 'POST' && (m = /^\/servers\/([^/]+)\/action$/.exec(path))) {
      const srv = this.servers.find((s) => s.id === m![1]);
      if (!srv) return this.#novaError(res, 404, `Instance ${m[1]} could not be found.`, mv);
      const b = (body ?? {}) as Record<string, Record<string, unknown> | undefined>;
      if (b.evacuate) {
        if (atLeast(mv, '2.14') && 'onSharedStorage' in b.evacuate) {
          return this.#novaError(res, 400, "Invalid input for field/attribute evacuate. Value: ... Additional properties are not allowed ('onSharedStorage' was unexpected)", mv);
        }
        if (atLeast(mv, '2.68') && 'force' in b.evacuate) {
          return this.#novaError(res, 400, "Invalid input for field/attribute evacuate. Additional properties are not allowed ('force' was unexpected)", mv);
        }
        srv.status = 'REBUILD';
        srv['OS-EXT-STS:task_state'] = 'rebuilding';
        res.writeHead(200, this.#novaHeaders(mv, 0));
        res.end();
        return;
      }
      if (b['os-migrateLive']) {
        res.writeHead(202, this.#novaHeaders(mv, 0));
        res.end();
        return;
      }
      return this.#novaError(res, 400, 'There is no such action', mv);
    }
    if (method === 'GET' && path === '/os-migrations') {
      const list = this.migrations.filter((x) => (!query.instance_uuid || x.instance_uuid === query.instance_uuid)
        && (!query.migration_type || x.migration_type === query.migration_type)
        && (!query.host || x.source_compute === query.host || x.dest_compute === query.host));
      return this.#json(res, 200, { migrations: list }, mv);
    }
    this.#novaError(res, 404, 'The resource could not be found.', mv);
  }

  /** Nova's paging: limit capped by max_limit, marker = last id, a next link only when the page is full. */
  #page(res: http.ServerResponse, list: Record<string, unknown>[], query: Record<string, string>, key: string, path: string, mv: string): void {
    let start = 0;
    if (query.marker) {
      const idx = list.findIndex((s) => String(s.id) === query.marker);
      if (idx < 0) return this.#novaError(res, 400, `marker [${query.marker}] not found`, mv);
      start = idx + 1;
    }
    const maxLimit = this.#opts.maxLimit ?? 1000;
    const limit = Math.min(query.limit ? Number(query.limit) : maxLimit, maxLimit);
    const page = list.slice(start, start + limit);
    const out: Record<string, unknown> = { [key]: page };
    if (page.length === limit && page.length > 0) {
      const next = new URLSearchParams({ ...query, marker: String(page[page.length - 1]!.id) });
      const linkBase = this.#opts.linkBase ?? this.computeUrl;
      out[`${key}_links`] = [{ rel: 'next', href: `${linkBase}${path}?${next.toString()}` }];
    }
    this.#json(res, 200, out, mv);
  }

  #novaHeaders(mv: string, length: number): Record<string, string | number> {
    const id = `req-${randomUUID()}`;
    return {
      'Content-Type': 'application/json', 'Content-Length': length,
      'OpenStack-API-Version': `compute ${mv}`, 'X-OpenStack-Nova-API-Version': mv, Vary: 'OpenStack-API-Version',
      'x-openstack-request-id': id, 'x-compute-request-id': id,
    };
  }

  #novaError(res: http.ServerResponse, status: number, message: string, mv = '2.1'): void {
    const key = NOVA_ERROR_KEYS[status] ?? 'computeFault';
    this.#json(res, status, { [key]: { code: status, message } }, mv);
  }

  #json(res: http.ServerResponse, status: number, body: unknown, mv?: string, placementMv?: string): void {
    const text = JSON.stringify(body);
    const plain: Record<string, string | number> = { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'x-openstack-request-id': `req-${randomUUID()}` };
    if (placementMv !== undefined) Object.assign(plain, { 'OpenStack-API-Version': `placement ${placementMv}`, Vary: 'OpenStack-API-Version' });
    const headers = mv !== undefined ? this.#novaHeaders(mv, Buffer.byteLength(text)) : plain;
    res.writeHead(status, headers);
    res.end(text);
  }
}

/** Builders for Nova JSON as the API returns it at 2.53+. */
export function novaService(host: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: randomUUID(), binary: 'nova-compute', host, zone: 'nova', status: 'enabled', state: 'up',
    updated_at: '2024-05-01T10:00:00.000000', disabled_reason: null, forced_down: false, ...over,
  };
}

export function novaServer(id: string, host: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id, name: `vm-${id}`, status: 'ACTIVE', 'OS-EXT-STS:task_state': null, 'OS-EXT-STS:vm_state': 'active',
    'OS-EXT-SRV-ATTR:host': host, 'OS-EXT-AZ:availability_zone': 'nova',
    addresses: { private: [{ addr: '198.18.1.10', version: 4, 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': 'fa:16:3e:00:00:01' }] },
    metadata: {}, user_id: 'u-owner', tenant_id: 'p-owner', updated: '2024-05-01T10:00:00Z',
    flavor: { vcpus: 2, ram: 4096, disk: 20, ephemeral: 0, swap: 0, original_name: 'm1.medium', extra_specs: {} },
    ...over,
  };
}
