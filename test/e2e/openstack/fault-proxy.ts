// A loopback proxy in front of the lab's Keystone and Nova that injects one fault: writes to one host's
// nova-compute service are acknowledged (and shown in later reads) but never reach Nova — an API node that
// answers from a stale cache. cmpha then believes the host forced down while Nova still thinks its service is up,
// so its evacuate meets Nova's real 400 "Compute service of HOST is still in use.". The fault ends at that 400,
// so what follows is the real Nova again. Every evacuate and service write is recorded.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxyRecord {
  readonly at: number;
  readonly method: string;
  readonly path: string;
  readonly requestBody: string;
  readonly status: number;
  readonly responseBody: string;
  /** True when the proxy answered itself and Nova never saw the request. */
  readonly faked: boolean;
}

interface ServiceJson { id: string; host: string; state: string; status: string; forced_down: boolean; disabled_reason: string | null }

const PASS_HEADERS = ['content-type', 'x-subject-token', 'openstack-api-version', 'x-openstack-nova-api-version', 'x-openstack-request-id', 'vary'];

async function readBody(req: IncomingMessage): Promise<string> {
  let s = '';
  for await (const chunk of req) s += (chunk as Buffer).toString();
  return s;
}

function forward(upstream: string, req: IncomingMessage, body: string) {
  return send(upstream, req.method ?? 'GET', req.url ?? '/', req, body);
}

async function send(upstream: string, method: string, url: string, req: IncomingMessage, body: string): Promise<{ status: number; headers: Headers; text: string }> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (typeof v === 'string' && !['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive'].includes(k)) headers[k] = v;
  }
  if (method === 'GET') delete headers['content-type'];
  const res = await fetch(`${upstream}${url}`, {
    method,
    headers,
    ...(body && method !== 'GET' && method !== 'HEAD' ? { body } : {}),
    signal: AbortSignal.timeout(180_000),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

function reply(res: ServerResponse, status: number, headers: Headers | Record<string, string>, text: string): void {
  const out: Record<string, string> = {};
  for (const k of PASS_HEADERS) {
    const v = headers instanceof Headers ? headers.get(k) : headers[k];
    if (v) out[k] = v;
  }
  res.writeHead(status, out).end(text);
}

export class FaultProxy {
  readonly records: ProxyRecord[] = [];
  /** Fields written to the faulty host's service that Nova never saw. */
  private overlay: Partial<ServiceJson> = {};
  private active = true;
  private keystone!: Server;
  private nova!: Server;
  private novaPort = 0;
  private keystonePort = 0;

  private constructor(private readonly o: { keystoneUrl: string; novaUrl: string; serviceId: string }) {}

  /** keystoneUrl/novaUrl: the real endpoints' origins (http://127.0.0.1:5000, http://127.0.0.1:8774). */
  static async start(o: { keystoneUrl: string; novaUrl: string; serviceId: string }): Promise<FaultProxy> {
    const p = new FaultProxy(o);
    p.nova = createServer((req, res) => { p.handleNova(req, res).catch((err) => reply(res, 502, {}, String(err))); });
    p.keystone = createServer((req, res) => { p.handleKeystone(req, res).catch((err) => reply(res, 502, {}, String(err))); });
    p.novaPort = await listen(p.nova);
    p.keystonePort = await listen(p.keystone);
    return p;
  }

  get authUrl(): string { return `http://127.0.0.1:${this.keystonePort}/v3`; }
  get faultActive(): boolean { return this.active; }

  private async handleKeystone(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const up = await forward(this.o.keystoneUrl, req, body);
    let text = up.text;
    if (req.method === 'POST' && /\/auth\/tokens$/.test((req.url ?? '').split('?')[0]!)) {
      // Send the client's compute calls through this proxy; everything else goes straight to the lab.
      text = text.split(this.o.novaUrl).join(`http://127.0.0.1:${this.novaPort}`);
    }
    reply(res, up.status, up.headers, text);
  }

  private async handleNova(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const p = (req.url ?? '').split('?')[0]!;
    const put = req.method === 'PUT' && p.endsWith(`/os-services/${this.o.serviceId}`);
    if (put && this.active) {
      const change = JSON.parse(body || '{}') as Partial<ServiceJson>;
      this.overlay = { ...this.overlay, ...change };
      const list = await send(this.o.novaUrl, 'GET', p.replace(/\/os-services\/.*$/, '/os-services?binary=nova-compute'), req, '');
      const svc = (JSON.parse(list.text) as { services: ServiceJson[] }).services.find((s) => s.id === this.o.serviceId);
      const text = JSON.stringify({ service: this.patch(svc!) });
      this.note(req, p, body, 200, text, true);
      reply(res, 200, { 'content-type': 'application/json', 'openstack-api-version': String(req.headers['openstack-api-version'] ?? '') }, text);
      return;
    }
    const up = await forward(this.o.novaUrl, req, body);
    let text = up.text;
    if (this.active && req.method === 'GET' && /\/os-services$/.test(p) && up.status === 200) {
      const j = JSON.parse(text) as { services: ServiceJson[] };
      j.services = j.services.map((s) => (s.id === this.o.serviceId ? this.patch(s) : s));
      text = JSON.stringify(j);
    }
    const evacuate = req.method === 'POST' && /\/servers\/[^/]+\/action$/.test(p) && body.includes('"evacuate"');
    if (evacuate || put) this.note(req, p, body, up.status, text, false);
    if (evacuate && up.status === 400 && /still in use/.test(text)) this.active = false;
    reply(res, up.status, up.headers, text);
  }

  private patch(s: ServiceJson): ServiceJson {
    const out = { ...s, ...this.overlay };
    if (this.overlay.forced_down) out.state = 'down';
    return out;
  }

  private note(req: IncomingMessage, path: string, requestBody: string, status: number, responseBody: string, faked: boolean): void {
    this.records.push({ at: Date.now(), method: req.method ?? '', path, requestBody, status, responseBody: responseBody.slice(0, 300), faked });
  }

  async close(): Promise<void> {
    await Promise.all([this.keystone, this.nova].map((s) => new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); })));
  }
}

function listen(s: Server): Promise<number> {
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)));
}
