import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CmphaError, errorMessage } from '../shared/errors.js';
import { ApiError, errorBody } from './api-error.js';
import { createAuthenticator, type Caller, type Role } from './auth.js';
import { createResources } from './handlers.js';
import { segmentResources } from './segment-handlers.js';
import { VmFailureStore } from '../masakari/vm-failure-store.js';
import { isoTimes } from '../shared/iso-times.js';
import { OPENAPI } from './openapi.js';
import { STATUS_CSS, STATUS_HTML, STATUS_JS } from './status-page.js';
import type { ApiDeps } from './types.js';

export interface ApiServer {
  readonly port: number;
  close(): Promise<void>;
}

const MAX_BODY = 64 * 1024;
/** The controller's Redis connection queues commands while Redis is away: answer 503 instead of hanging. */
const REQUEST_DEADLINE_MS = 10_000;

async function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ApiError(503, 'backend_timeout', `no answer from Redis within ${ms / 1000} s; try again`)), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

interface Route {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly path: RegExp;
  readonly role: Role;
  /** Masakari-compatible routes answer errors in Masakari's shape. */
  readonly style: 'cmpha' | 'masakari';
  readonly status?: number;
  readonly run: (m: RegExpExecArray, ctx: { q: URLSearchParams; body: unknown; caller: Caller }) => Promise<unknown> | unknown;
}

/**
 * The HTTP API (/v1), its OpenAPI document and the status page, on the [api] listen address. Reads need a
 * read or write token (or none with anonymous_read); writes need a write token, and record its name.
 */
export async function startApiServer(deps: ApiDeps): Promise<ApiServer> {
  const log = deps.logger.child({ component: 'api' });
  const authenticate = createAuthenticator(deps.config.tokens, { anonymousRead: deps.config.anonymousRead });
  const r = createResources(deps);
  const sg = segmentResources(deps);
  const vmFailures = new VmFailureStore(deps.redis, deps.prefix);
  const seg = '([A-Za-z0-9._:-]{1,200})';
  const routes: Route[] = [
    { method: 'GET', path: /^\/v1\/incidents$/, role: 'read', style: 'cmpha', run: (_m, c) => r.listIncidents(c.q) },
    { method: 'GET', path: new RegExp(`^/v1/incidents/${seg}$`), role: 'read', style: 'cmpha', run: (m) => r.showIncident(m[1]!) },
    { method: 'POST', path: new RegExp(`^/v1/incidents/${seg}/ack$`), role: 'write', style: 'cmpha', run: (m, c) => r.ackIncident(m[1]!, c.body, c.caller) },
    { method: 'GET', path: /^\/v1\/hosts$/, role: 'read', style: 'cmpha', run: () => r.listHosts() },
    { method: 'GET', path: new RegExp(`^/v1/hosts/${seg}$`), role: 'read', style: 'cmpha', run: (m) => r.showHost(m[1]!) },
    { method: 'POST', path: new RegExp(`^/v1/hosts/${seg}/fence-confirm$`), role: 'write', style: 'cmpha', run: (m, c) => r.confirmFence(m[1]!, c.body, c.caller) },
    { method: 'GET', path: /^\/v1\/vm-failures$/, role: 'read', style: 'cmpha', run: async () => isoTimes({ vmFailures: await vmFailures.list(100) }) },
    {
      method: 'GET', path: new RegExp(`^/v1/vm-failures/${seg}$`), role: 'read', style: 'cmpha',
      run: async (m) => {
        const rec = await vmFailures.get(m[1]!);
        if (!rec) throw new ApiError(404, 'vm_failure_not_found', `no VM failure record ${m[1]!}`);
        return isoTimes({ vmFailure: rec });
      },
    },
    { method: 'GET', path: /^\/v1\/storm-brake$/, role: 'read', style: 'cmpha', run: () => r.stormBrake() },
    { method: 'POST', path: /^\/v1\/storm-brake\/resume$/, role: 'write', style: 'cmpha', run: (_m, c) => r.resume(c.caller) },
    { method: 'GET', path: /^\/v1\/ha$/, role: 'read', style: 'cmpha', run: (_m, c) => r.haStatus(c.q) },
    { method: 'POST', path: /^\/v1\/ha\/disarm$/, role: 'write', style: 'cmpha', run: (_m, c) => r.haDisarm(c.body, c.caller) },
    { method: 'POST', path: /^\/v1\/ha\/arm$/, role: 'write', style: 'cmpha', run: (_m, c) => r.haArm(c.body, c.caller) },
    { method: 'POST', path: /^\/v1\/notifications$/, role: 'write', style: 'masakari', status: 202, run: (_m, c) => r.createNotification(c.body, c.caller) },
    { method: 'GET', path: /^\/v1\/notifications$/, role: 'read', style: 'masakari', run: (_m, c) => r.listNotifications(c.q) },
    { method: 'GET', path: /^\/v1\/notifications\/([0-9a-fA-F-]{1,64})$/, role: 'read', style: 'masakari', run: (m) => r.showNotification(m[1]!) },
    { method: 'GET', path: /^\/v1\/segments$/, role: 'read', style: 'masakari', run: (_m, c) => sg.listSegments(c.q) },
    { method: 'POST', path: /^\/v1\/segments$/, role: 'write', style: 'masakari', status: 201, run: (_m, c) => sg.createSegment(c.body, c.caller) },
    { method: 'GET', path: new RegExp(`^/v1/segments/${seg}$`), role: 'read', style: 'masakari', run: (m) => sg.showSegment(m[1]!) },
    { method: 'PUT', path: new RegExp(`^/v1/segments/${seg}$`), role: 'write', style: 'masakari', run: (m, c) => sg.updateSegment(m[1]!, c.body, c.caller) },
    { method: 'DELETE', path: new RegExp(`^/v1/segments/${seg}$`), role: 'write', style: 'masakari', status: 204, run: (m, c) => sg.deleteSegment(m[1]!, c.caller) },
    { method: 'GET', path: new RegExp(`^/v1/segments/${seg}/hosts$`), role: 'read', style: 'masakari', run: (m, c) => sg.listSegmentHosts(m[1]!, c.q) },
    { method: 'POST', path: new RegExp(`^/v1/segments/${seg}/hosts$`), role: 'write', style: 'masakari', status: 201, run: (m, c) => sg.createSegmentHost(m[1]!, c.body, c.caller) },
    { method: 'GET', path: new RegExp(`^/v1/segments/${seg}/hosts/${seg}$`), role: 'read', style: 'masakari', run: (m) => sg.showSegmentHost(m[1]!, m[2]!) },
    { method: 'PUT', path: new RegExp(`^/v1/segments/${seg}/hosts/${seg}$`), role: 'write', style: 'masakari', run: (m, c) => sg.updateSegmentHost(m[1]!, m[2]!, c.body, c.caller) },
    { method: 'DELETE', path: new RegExp(`^/v1/segments/${seg}/hosts/${seg}$`), role: 'write', style: 'masakari', status: 204, run: (m, c) => sg.deleteSegmentHost(m[1]!, m[2]!, c.caller) },
  ];

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.error({ err: errorMessage(err), path: req.url }, 'API request failed');
      if (!res.headersSent) send(res, 500, 'application/json', JSON.stringify(errorBody(new ApiError(500, 'internal', 'internal error; see the cmpha log'), 'cmpha')));
      else res.destroy();
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    if (method === 'GET' || method === 'HEAD') {
      if (path === '/') return send(res, 200, 'text/html; charset=utf-8', STATUS_HTML);
      if (path === '/status.css') return send(res, 200, 'text/css; charset=utf-8', STATUS_CSS);
      if (path === '/status.js') return send(res, 200, 'text/javascript; charset=utf-8', STATUS_JS);
      if (path === '/v1/openapi.json') return send(res, 200, 'application/json', `${JSON.stringify(OPENAPI, null, 2)}\n`);
      if (path === '/v1') return sendJson(res, 200, versionDocument(req));
    }
    const known = routes.filter((x) => x.path.test(path));
    const route = known.find((x) => x.method === method || (method === 'HEAD' && x.method === 'GET'));
    const style = path.startsWith('/v1/notifications') || path.startsWith('/v1/segments') ? 'masakari' : 'cmpha';
    try {
      if (!route) {
        if (known.length > 0) {
          res.setHeader('Allow', [...new Set(known.map((x) => x.method))].join(', '));
          throw new ApiError(405, 'method_not_allowed', `${method} is not allowed on ${path}`);
        }
        throw new ApiError(404, 'not_found', `no such resource ${path}; see /v1/openapi.json`);
      }
      const caller = authenticate(req.headers, route.role);
      const body = route.method === 'POST' || route.method === 'PUT' ? await readJson(req) : undefined;
      const m = route.path.exec(path)!;
      const out = await withDeadline(Promise.resolve(route.run(m, { q: url.searchParams, body, caller })), REQUEST_DEADLINE_MS);
      if (route.status === 204) send(res, 204, 'application/json', '');
      else sendJson(res, route.status ?? 200, out);
    } catch (err) {
      const e = err instanceof ApiError ? err
        : err instanceof CmphaError && err.code === 'incident_not_found' ? new ApiError(404, err.code, err.message)
        : err instanceof CmphaError && err.code === 'redis_unreachable' ? new ApiError(503, err.code, err.message)
        : err instanceof CmphaError && err.code === 'segments_busy' ? new ApiError(409, err.code, err.message)
        : null;
      if (!e) throw err;
      if (e.status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="cmpha"');
      if (e.status >= 500) log.warn({ code: e.code, path }, e.message);
      sendJson(res, e.status, errorBody(e, route?.style ?? style));
    }
  }

  await new Promise<void>((resolve, reject) => {
    const { host, port } = deps.config.listen;
    const onError = (err: NodeJS.ErrnoException) => {
      reject(new CmphaError('api_listen_failed', `cannot serve the API on ${host}:${port} ([api] listen): ${err.code ?? err.message}`, { cause: err }));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => log.error({ err: errorMessage(err) }, 'API server error'));
  const port = (server.address() as AddressInfo).port;
  log.info({ host: deps.config.listen.host, port, tokens: deps.config.tokens.map((t) => `${t.name}:${t.role}`) }, 'API and status page listening');
  return {
    port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** Masakari's version document at /v1, which OpenStack clients read before any call. */
function versionDocument(req: http.IncomingMessage): unknown {
  const base = `http://${req.headers.host ?? 'localhost'}`;
  return {
    version: {
      id: 'v1.0', status: 'CURRENT', version: '1.2', min_version: '1.0', updated: '2026-12-01T00:00:00Z',
      links: [{ rel: 'self', href: `${base}/v1/` }, { rel: 'describedby', type: 'application/json', href: `${base}/v1/openapi.json` }],
    },
  };
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new ApiError(413, 'body_too_large', `the request body is over ${MAX_BODY} bytes`);
    chunks.push(c as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ApiError(400, 'bad_json', `the request body is not JSON: ${errorMessage(err)}`);
  }
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  send(res, status, 'application/json', `${JSON.stringify(body)}\n`);
}

function send(res: http.ServerResponse, status: number, contentType: string, body: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  if (contentType.startsWith('text/html')) {
    res.setHeader('Content-Security-Policy', "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
  }
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
