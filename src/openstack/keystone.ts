import type { CloudAuth, CloudConfig } from '../config/types.js';
import { CmphaError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { systemClock, type Clock } from '../shared/time.js';
import { OpenStackError } from './errors.js';
import type { HttpClient, HttpRequest, HttpResponse } from './http.js';

export interface CatalogEndpoint {
  readonly interface: string;
  readonly region: string | null;
  readonly url: string;
}

export interface CatalogEntry {
  readonly type: string;
  readonly name?: string;
  readonly endpoints: readonly CatalogEndpoint[];
}

interface Token {
  readonly value: string;
  readonly expiresAt: number;
  /** When we stop using it: a little before it expires, so no request starts with a dying token. */
  readonly refreshAt: number;
  readonly catalog: readonly CatalogEntry[];
  readonly userId?: string;
  readonly projectId?: string;
}

/** A request that gets the session's token; the same shape as an unauthenticated one. */
export type AuthedRequest = HttpRequest;

/** Stop using a token this long before Keystone's `expires_at`. */
const REFRESH_MARGIN_MS = 2 * 60_000;

/**
 * A Keystone v3 session: authenticates with a password or an application credential, caches the
 * token until shortly before it expires, finds endpoints in the catalog, and re-authenticates once
 * when a service answers 401 (tokens are revoked when a password changes; see nova-facts).
 */
export class KeystoneSession {
  readonly #cloud: CloudConfig;
  readonly #http: HttpClient;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #tokensUrl: string;
  #token: Token | null = null;
  #pending: Promise<Token> | null = null;

  constructor(cloud: CloudConfig, http: HttpClient, deps: { logger: Logger; clock?: Clock }) {
    this.#cloud = cloud;
    this.#http = http;
    this.#logger = deps.logger;
    this.#clock = deps.clock ?? systemClock;
    this.#tokensUrl = `${identityV3Base(cloud.authUrl, cloud.source)}/auth/tokens`;
    http.addSecret(authSecret(cloud.auth));
  }

  get authUrl(): string {
    return this.#cloud.authUrl;
  }

  /** A valid token, from the cache or fresh from Keystone. Concurrent callers share one authentication. */
  async token(signal?: AbortSignal): Promise<string> {
    return (await this.#current(signal)).value;
  }

  /** The project the token is scoped to, when Keystone said. */
  async projectId(signal?: AbortSignal): Promise<string | undefined> {
    return (await this.#current(signal)).projectId;
  }

  /** Drops the cached token so that the next call authenticates again. */
  invalidate(): void {
    if (this.#token) this.#http.forgetSecret(this.#token.value);
    this.#token = null;
  }

  /**
   * The URL of `serviceType` in the catalog for the configured interface and region. The error when
   * there is none names what was asked for and what the catalog offers.
   */
  async endpoint(serviceType: string, signal?: AbortSignal): Promise<string> {
    const token = await this.#current(signal);
    return findEndpoint(token.catalog, serviceType, this.#cloud.interface, this.#cloud.regionName, this.#cloud.authUrl);
  }

  /** The catalog of the current token (for diagnostics such as `cmpha check`). */
  async catalog(signal?: AbortSignal): Promise<readonly CatalogEntry[]> {
    return (await this.#current(signal)).catalog;
  }

  /**
   * Sends a request with the token. On 401 it re-authenticates and sends it once more: a 401 means the
   * service did not act, so even a POST evacuate is safe to repeat then. A second 401 is final.
   */
  async send<T = unknown>(req: AuthedRequest): Promise<HttpResponse<T>> {
    const first = await this.#current(req.signal);
    try {
      return await this.#http.send<T>({ ...req, headers: { ...req.headers, 'X-Auth-Token': first.value } });
    } catch (err) {
      if (!(err instanceof OpenStackError) || err.status !== 401) throw err;
      this.#logger.info({ service: req.service, method: req.method, path: err.path }, 'token refused, authenticating again');
      const renewed = await this.#renew(first, req.signal);
      try {
        return await this.#http.send<T>({ ...req, headers: { ...req.headers, 'X-Auth-Token': renewed.value } });
      } catch (err2) {
        if (err2 instanceof OpenStackError && err2.status === 401) {
          throw new OpenStackError('unauthorized', `${err2.message}, also with a fresh token from ${this.#cloud.authUrl}`, {
            service: err2.service, method: err2.method, path: err2.path, status: 401, requestId: err2.requestId, serviceMessage: err2.serviceMessage,
          });
        }
        throw err2;
      }
    }
  }

  async #current(signal?: AbortSignal): Promise<Token> {
    const t = this.#token;
    if (t && this.#clock.now() < t.refreshAt) return t;
    return this.#renew(t, signal);
  }

  /** Replaces `stale` with a new token, unless someone already did or is doing it. */
  #renew(stale: Token | null, signal?: AbortSignal): Promise<Token> {
    if (this.#token && this.#token !== stale && this.#clock.now() < this.#token.refreshAt) return Promise.resolve(this.#token);
    if (this.#pending) return this.#pending;
    if (stale && this.#token === stale) this.invalidate();
    const p = this.#authenticate(signal).then(
      (tok) => {
        this.#token = tok;
        this.#pending = null;
        return tok;
      },
      (err: unknown) => {
        this.#pending = null;
        throw err;
      },
    );
    this.#pending = p;
    return p;
  }

  async #authenticate(signal?: AbortSignal): Promise<Token> {
    const started = this.#clock.now();
    let res: HttpResponse<KeystoneTokenBody>;
    try {
      res = await this.#http.send<KeystoneTokenBody>({
        service: 'keystone', method: 'POST', url: this.#tokensUrl, body: authBody(this.#cloud.auth),
        // Asking for a token twice does no harm, and uwsgi drops keep-alive connections now and then.
        idempotent: true, signal,
      });
    } catch (err) {
      if (err instanceof OpenStackError && err.status === 401) {
        throw new OpenStackError('unauthorized', `Keystone at ${this.#cloud.authUrl} refused the ${describeAuth(this.#cloud.auth)} (from ${this.#cloud.source}): ${err.serviceMessage ?? 'no reason given'}`, {
          service: 'keystone', method: 'POST', path: err.path, status: 401, requestId: err.requestId, serviceMessage: err.serviceMessage,
        });
      }
      throw err;
    }
    const value = res.headers['x-subject-token'];
    const body = res.data?.token;
    if (!value || !body) {
      throw new OpenStackError('keystone_invalid_response', `Keystone at ${this.#cloud.authUrl} answered ${res.status} without ${!value ? 'an X-Subject-Token header' : 'a token body'}`, {
        service: 'keystone', method: 'POST', path: new URL(this.#tokensUrl).pathname, status: res.status, requestId: res.requestId,
      });
    }
    this.#http.addSecret(value);
    const parsed = body.expires_at ? Date.parse(body.expires_at) : NaN;
    const expiresAt = Number.isFinite(parsed) ? parsed : started + 3_600_000;
    const lifetime = Math.max(0, expiresAt - started);
    const refreshAt = expiresAt - Math.min(REFRESH_MARGIN_MS, lifetime / 2);
    const catalog = (body.catalog ?? []).map(toCatalogEntry);
    this.#logger.debug({ expiresAt: new Date(expiresAt).toISOString(), services: catalog.map((c) => c.type) }, 'keystone token issued');
    return { value, expiresAt, refreshAt, catalog, userId: body.user?.id, projectId: body.project?.id };
  }
}

interface KeystoneTokenBody {
  token?: {
    expires_at?: string;
    catalog?: Array<{ type?: string; name?: string; endpoints?: Array<{ interface?: string; region?: string | null; region_id?: string | null; url?: string }> }>;
    user?: { id?: string };
    project?: { id?: string };
  };
}

function toCatalogEntry(raw: NonNullable<NonNullable<KeystoneTokenBody['token']>['catalog']>[number]): CatalogEntry {
  return {
    type: raw.type ?? '',
    name: raw.name,
    endpoints: (raw.endpoints ?? []).map((e) => ({ interface: e.interface ?? '', region: e.region_id ?? e.region ?? null, url: e.url ?? '' })),
  };
}

/** `http://k:5000`, `http://k:5000/`, `http://k:5000/v3/` all become `http://k:5000/v3`. */
export function identityV3Base(authUrl: string, source = 'the cloud settings'): string {
  let u: URL;
  try {
    u = new URL(authUrl);
  } catch {
    throw new CmphaError('config_invalid', `auth_url ${JSON.stringify(authUrl)} in ${source} is not a URL`);
  }
  const path = u.pathname.replace(/\/+$/, '');
  if (/\/v2\.0$/.test(path)) {
    throw new CmphaError('config_invalid', `auth_url ${authUrl} in ${source} points at Keystone v2.0, which is gone; use the v3 URL`);
  }
  u.pathname = /\/v3$/.test(path) ? path : `${path}/v3`;
  u.search = '';
  u.hash = '';
  return u.toString().replace(/\/+$/, '');
}

export function findEndpoint(
  catalog: readonly CatalogEntry[],
  serviceType: string,
  iface: string,
  region: string | undefined,
  authUrl: string,
): string {
  const match = catalog
    .filter((c) => c.type === serviceType)
    .flatMap((c) => c.endpoints)
    .find((e) => e.interface === iface && (region === undefined || e.region === region));
  if (match) return match.url.replace(/\/+$/, '');
  const offers = catalog.length === 0
    ? 'an empty catalog (is the token scoped to a project?)'
    : catalog.map((c) => `${c.type} (${c.endpoints.map((e) => `${e.interface}${e.region ? ` ${e.region}` : ''}`).join(', ') || 'no endpoints'})`).join('; ');
  throw new CmphaError(
    'endpoint_not_found',
    `no ${serviceType} endpoint with interface ${iface}${region !== undefined ? ` in region ${region}` : ''} in the catalog from ${authUrl}; it offers: ${offers}`,
  );
}

function domainRef(id: string | undefined, name: string | undefined): { id: string } | { name: string } | undefined {
  if (id !== undefined) return { id };
  if (name !== undefined) return { name };
  return undefined;
}

function userRef(a: { userId?: string; username?: string; userDomainId?: string; userDomainName?: string }): Record<string, unknown> | undefined {
  if (a.userId !== undefined) return { id: a.userId };
  if (a.username !== undefined) {
    // Keystone needs a domain to find a user by name; `Default` is what openstackclient assumes too.
    return { name: a.username, domain: domainRef(a.userDomainId, a.userDomainName) ?? { id: 'default' } };
  }
  return undefined;
}

/** The body of POST /v3/auth/tokens, exactly as Keystone documents it. */
export function authBody(auth: CloudAuth): unknown {
  if (auth.type === 'application_credential') {
    const cred: Record<string, unknown> = { secret: auth.secret.reveal() };
    if (auth.id !== undefined) cred.id = auth.id;
    else {
      cred.name = auth.name;
      const user = userRef(auth);
      if (user) cred.user = user;
    }
    // An application credential carries its own scope; Keystone rejects an explicit one.
    return { auth: { identity: { methods: ['application_credential'], application_credential: cred } } };
  }
  const user = { ...userRef(auth), password: auth.password.reveal() };
  const body: Record<string, unknown> = { identity: { methods: ['password'], password: { user } } };
  if (auth.projectId !== undefined) body.scope = { project: { id: auth.projectId } };
  else if (auth.projectName !== undefined) {
    body.scope = { project: { name: auth.projectName, domain: domainRef(auth.projectDomainId, auth.projectDomainName) ?? { id: 'default' } } };
  } else {
    const domain = domainRef(auth.domainId, auth.domainName);
    if (domain) body.scope = { domain };
  }
  return { auth: body };
}

function authSecret(auth: CloudAuth): string {
  return auth.type === 'application_credential' ? auth.secret.reveal() : auth.password.reveal();
}

function describeAuth(auth: CloudAuth): string {
  if (auth.type === 'application_credential') {
    return `application credential ${auth.id ?? auth.name ?? '(unnamed)'}`;
  }
  return `password of user ${auth.userId ?? auth.username ?? '(unnamed)'}`;
}
