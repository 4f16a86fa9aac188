// A deliberately plain OpenStack REST client for the lab tests: fetch, no cmpha code, so what the tests
// assert is what Keystone and Nova answered on the wire.

export interface Credentials {
  readonly authUrl: string;
  readonly username: string;
  readonly password: string;
  readonly projectName: string;
  readonly userDomainName: string;
  readonly projectDomainName: string;
}

export interface RestResponse<T = unknown> {
  readonly status: number;
  readonly body: T;
  readonly text: string;
  readonly headers: Headers;
}

interface CatalogEntry {
  type: string;
  endpoints: { interface: string; url: string; region_id?: string }[];
}

export class OsRest {
  private token = '';
  private catalog: CatalogEntry[] = [];

  constructor(readonly credentials: Credentials) {}

  /** POST /v3/auth/tokens; returns the raw response so callers can assert on it. */
  async authenticate(): Promise<RestResponse<{ token: { catalog: CatalogEntry[] } }>> {
    const c = this.credentials;
    const res = await request<{ token: { catalog: CatalogEntry[] } }>('POST', `${c.authUrl.replace(/\/+$/, '')}/auth/tokens`, {
      body: {
        auth: {
          identity: { methods: ['password'], password: { user: { name: c.username, password: c.password, domain: { name: c.userDomainName } } } },
          scope: { project: { name: c.projectName, domain: { name: c.projectDomainName } } },
        },
      },
    });
    if (res.status !== 201) throw new Error(`Keystone refused the lab credentials: ${res.status} ${res.text.slice(0, 300)}`);
    this.token = res.headers.get('x-subject-token') ?? '';
    this.catalog = res.body.token.catalog;
    return res;
  }

  endpoint(type: string): string {
    const entry = this.catalog.find((e) => e.type === type);
    const ep = entry?.endpoints.find((e) => e.interface === 'public');
    if (!ep) throw new Error(`no public ${type} endpoint in the catalog`);
    return ep.url.replace(/\/+$/, '');
  }

  async call<T = unknown>(type: string, method: string, path: string, opts: { body?: unknown; microversion?: string; headers?: Record<string, string> } = {}): Promise<RestResponse<T>> {
    if (!this.token) await this.authenticate();
    const headers: Record<string, string> = { 'X-Auth-Token': this.token, ...opts.headers };
    if (opts.microversion) headers['OpenStack-API-Version'] = `compute ${opts.microversion}`;
    let res = await request<T>(method, `${this.endpoint(type)}${path}`, { headers, body: opts.body });
    if (res.status === 401) {
      await this.authenticate();
      headers['X-Auth-Token'] = this.token;
      res = await request<T>(method, `${this.endpoint(type)}${path}`, { headers, body: opts.body });
    }
    return res;
  }

  nova<T = unknown>(method: string, path: string, body?: unknown, microversion = '2.53'): Promise<RestResponse<T>> {
    return this.call<T>('compute', method, path, { body, microversion });
  }

  /** A Nova call that must succeed; anything else throws with the status and body. */
  async novaOk<T = unknown>(method: string, path: string, body?: unknown, microversion = '2.53'): Promise<T> {
    const res = await this.nova<T>(method, path, body, microversion);
    if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status} ${res.text.slice(0, 500)}`);
    return res.body;
  }
}

export async function request<T>(method: string, url: string, opts: { headers?: Record<string, string>; body?: unknown } = {}): Promise<RestResponse<T>> {
  const init: RequestInit = {
    method,
    headers: { Accept: 'application/json', ...(opts.body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...opts.headers },
    signal: AbortSignal.timeout(120_000),
  };
  if (opts.body !== undefined) init.body = JSON.stringify(opts.body);
  // uwsgi may drop a kept-alive connection; only requests that change nothing are sent again.
  const attempts = method === 'GET' ? 3 : 1;
  for (let i = 1; ; i++) {
    try {
      const res = await fetch(url, init);
      const text = await res.text();
      let body: unknown = null;
      try { body = text ? JSON.parse(text) : null; } catch { body = null; }
      return { status: res.status, body: body as T, text, headers: res.headers };
    } catch (err) {
      if (i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 200 * i));
    }
  }
}
