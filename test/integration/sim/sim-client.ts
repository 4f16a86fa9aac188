import { runSim, type RunningSim, type SimOptions } from '../../../src/sim/index.js';

/** Plain-fetch access to a running simulator, the way any HTTP client would see it. */
export interface TestSim {
  readonly sim: RunningSim;
  readonly base: string;
  token: string;
  admin: { username: string; password: string };
  nova(method: string, path: string, opts?: { body?: unknown; mv?: string; token?: string }): Promise<Res>;
  control(method: string, path: string, body?: unknown): Promise<Res>;
  server(id: string): Promise<Record<string, unknown>>;
  migrations(query: string): Promise<Record<string, unknown>[]>;
  serviceId(host: string): Promise<string>;
  forceDown(host: string): Promise<Res>;
  waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

export interface Res {
  status: number;
  headers: Headers;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

async function toRes(r: Response): Promise<Res> {
  const text = await r.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.status, headers: r.headers, text, json };
}

export async function passwordToken(base: string, username: string, password: string): Promise<Response> {
  return fetch(`${base}/identity/v3/auth/tokens`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: { methods: ['password'], password: { user: { name: username, domain: { name: 'Default' }, password } } },
        scope: { project: { name: 'admin', domain: { name: 'Default' } } },
      },
    }),
  });
}

/** Starts a small, fast world in-process on a free loopback port and logs in as admin. */
export async function startTestSim(opts: SimOptions = {}): Promise<TestSim> {
  const sim = await runSim({
    evacuateSeconds: 0.3, bootSeconds: 0.1, cleanupSeconds: 0.2, rpcTimeoutSeconds: 0.5, reportIntervalSeconds: 10,
    serviceDownTimeSeconds: 60, ...opts,
  });
  const base = sim.controlUrl;
  const creds = (await (await fetch(`${base}/sim/credentials`)).json()) as { admin: { username: string; password: string } };
  const r = await passwordToken(base, creds.admin.username, creds.admin.password);
  if (r.status !== 201) throw new Error(`login failed: ${r.status} ${await r.text()}`);
  const t: TestSim = {
    sim, base, token: r.headers.get('x-subject-token')!, admin: creds.admin,
    async nova(method, path, o = {}) {
      const headers: Record<string, string> = { 'X-Auth-Token': o.token ?? t.token };
      if (o.mv) headers['OpenStack-API-Version'] = `compute ${o.mv}`;
      if (o.body !== undefined) headers['Content-Type'] = 'application/json';
      return toRes(await fetch(`${base}/compute/v2.1${path}`, { method, headers, body: o.body === undefined ? null : JSON.stringify(o.body) }));
    },
    async control(method, path, body) {
      return toRes(await fetch(`${base}/sim${path}`, {
        method, headers: body === undefined ? {} : { 'Content-Type': 'application/json' }, body: body === undefined ? null : JSON.stringify(body),
      }));
    },
    async server(id) {
      const res = await t.nova('GET', `/servers/${id}`, { mv: '2.53' });
      if (res.status !== 200) throw new Error(`GET server ${id}: ${res.status} ${res.text}`);
      return res.json.server;
    },
    async migrations(query) {
      const res = await t.nova('GET', `/os-migrations?${query}`, { mv: '2.80' });
      if (res.status !== 200) throw new Error(`GET migrations: ${res.status} ${res.text}`);
      return res.json.migrations;
    },
    async serviceId(host) {
      const res = await t.nova('GET', `/os-services?binary=nova-compute&host=${host}`, { mv: '2.53' });
      return res.json.services[0].id;
    },
    async forceDown(host) {
      return t.nova('PUT', `/os-services/${await t.serviceId(host)}`, { mv: '2.53', body: { forced_down: true } });
    },
    async waitFor(what, fn, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const v = await fn();
        if (v !== undefined && v !== false) return v as never;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((res) => setTimeout(res, 20));
      }
    },
    close: () => sim.close(),
  };
  return t;
}

/** Servers on a host, from the control API's truth. */
export async function serversOn(t: TestSim, host: string): Promise<{ id: string; status: string; ip: string }[]> {
  const st = (await t.control('GET', `/state?host=${host}`)).json;
  return st.servers;
}
