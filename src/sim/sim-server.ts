import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { silentLogger, type Logger } from '../shared/logger.js';
import { sleep } from '../shared/time.js';
import { CallLog, Control, DEFAULT_FAULTS, applyFaults, redact, type FaultCounts, type FaultSettings, type SimService } from './control.js';
import { corruptAnswer, takeRule } from './corrupt.js';
import { SimHttpError, keystoneError, neutronError, novaError } from './http-error.js';
import type { SimRequest, SimResponse } from './http-types.js';
import { Cinder } from './cinder.js';
import { CLOUDPODS_PREFIX, CloudpodsRegion, regionError } from './cloudpods.js';
import { Glance } from './glance.js';
import { Keystone } from './keystone.js';
import { Neutron } from './neutron.js';
import { Nova } from './nova.js';
import { Placement, placementError } from './placement.js';
import { Redfish } from './redfish.js';
import type { World } from './world.js';

const MAX_BODY = 1024 * 1024;
const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export interface SimHttpOptions {
  host?: string;
  port?: number;
  faults?: Partial<FaultSettings>;
  logger?: Logger;
  /** Awaited after a control call changed the world (the netns layer catches up before the answer). */
  afterChange?: () => Promise<void>;
  /** What GET /sim/state reports under `netns`. */
  netnsInfo?: () => unknown;
}

export interface SimHttp {
  readonly server: http.Server;
  readonly port: number;
  /** http://127.0.0.1:PORT */
  readonly base: string;
  readonly keystone: Keystone;
  /** The Cloudpods region's own state (offline flags, metadata, migrations), for tests. */
  readonly cloudpods: CloudpodsRegion;
  readonly calls: CallLog;
  readonly faults: FaultSettings;
  close(): Promise<void>;
}

function serviceOf(path: string): SimService | 'sim' | null {
  if (path.startsWith('/compute')) return 'nova';
  if (path.startsWith('/identity')) return 'keystone';
  if (path.startsWith('/network')) return 'neutron';
  if (path.startsWith('/placement')) return 'placement';
  if (path.startsWith('/volume')) return 'cinder';
  if (path.startsWith('/image')) return 'glance';
  if (path.startsWith('/redfish')) return 'redfish';
  if (path.startsWith(CLOUDPODS_PREFIX)) return 'cloudpods';
  if (path.startsWith('/sim')) return 'sim';
  return null;
}

function malformed(service: SimService | 'sim' | null): SimHttpError {
  switch (service) {
    case 'nova': return novaError(400, 'Malformed request body');
    case 'keystone': return keystoneError(400, 'The request body is not valid JSON.');
    case 'neutron': return neutronError(400, 'HTTPBadRequest', 'Malformed request body');
    case 'placement': return placementError(400, 'Malformed JSON in request body.');
    case 'cinder': return novaError(400, 'Malformed request body');
    case 'cloudpods': return regionError(400, 'InputParameterError', 'invalid json body');
    case 'glance': return new SimHttpError(400, 'Malformed request body');
    default: return new SimHttpError(400, { error: 'request body is not valid JSON' });
  }
}

function internalError(service: SimService | 'sim' | null): SimHttpError {
  switch (service) {
    case 'nova':
      return novaError(500, "Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and attach the Nova API log if possible.\n<class 'oslo_db.exception.DBConnectionError'>");
    case 'keystone': return keystoneError(500, 'An unexpected error prevented the server from fulfilling your request.');
    case 'neutron': return neutronError(500, 'HTTPInternalServerError', 'Request Failed: internal server error while processing your request.');
    case 'placement': return new SimHttpError(500, { errors: [{ status: 500, title: 'Internal Server Error', detail: 'The server has either erred or is incapable of performing the requested operation.', code: 'placement.undefined_code' }] });
    case 'cloudpods': return regionError(500, 'InternalServerError', 'internal server error');
    default: return new SimHttpError(500, { error: 'internal error' });
  }
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new SimHttpError(413, { error: 'request body too large' }));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Serves Keystone, Nova, Neutron, Placement, Redfish and the /sim control API from one loopback HTTP server. */
export async function startSimHttp(world: World, opts: SimHttpOptions = {}): Promise<SimHttp> {
  const log = opts.logger ?? silentLogger;
  const host = opts.host ?? '127.0.0.1';
  const faults: FaultSettings = { ...DEFAULT_FAULTS, services: [...DEFAULT_FAULTS.services], corrupt: [] };
  if (opts.faults) applyFaults(faults, opts.faults as Record<string, unknown>);
  const calls = new CallLog();
  const urls = { base: '' };
  const keystone = new Keystone(world, urls);
  const nova = new Nova(world, keystone, urls);
  const neutron = new Neutron(world, keystone);
  const placement = new Placement(world, keystone);
  const cinder = new Cinder(world, keystone);
  const glance = new Glance(world, keystone);
  const redfish = new Redfish(world);
  const cloudpods = new CloudpodsRegion(world, keystone);
  const injected: FaultCounts = { errors: 0, drops: 0, dropsAfter: 0, corrupted: 0 };
  const control = new Control(world, keystone, calls, faults, {
    injected,
    ...(opts.afterChange ? { afterChange: opts.afterChange } : {}),
    ...(opts.netnsInfo ? { netnsInfo: opts.netnsInfo } : {}),
  });
  const sockets = new Set<Socket>();

  // one wake-up timer for the whole world: runs due events even when nobody asks (namespaces must follow)
  let timer: NodeJS.Timeout | undefined;
  let armedFor = Infinity;
  const arm = () => {
    const next = world.nextEventTime();
    if (next === undefined || next >= armedFor) return;
    if (timer) clearTimeout(timer);
    armedFor = next;
    timer = setTimeout(() => {
      timer = undefined;
      armedFor = Infinity;
      world.advance();
      arm();
    }, Math.max(0, next - world.now()) + 1);
    timer.unref();
  };
  world.setScheduleListener(arm);

  const send = (res: http.ServerResponse, r: SimResponse) => {
    const headers: Record<string, string | number> = { ...(r.headers ?? {}) };
    let payload = '';
    if (r.rawBody !== undefined) payload = r.rawBody;
    else if (r.body !== undefined) payload = JSON.stringify(r.body);
    if (r.body !== undefined && r.rawBody === undefined) headers['Content-Type'] = 'application/json';
    if (r.rawBody !== undefined && r.status !== 204 && !headers['Content-Type']) headers['Content-Type'] = 'application/json';
    if (r.status !== 204) headers['Content-Length'] = Buffer.byteLength(payload);
    res.writeHead(r.status, headers);
    res.end(r.status === 204 ? undefined : payload);
  };

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? host}`);
    const path = url.pathname.replace(/\/{2,}/g, '/');
    const service = serviceOf(path);
    const method = req.method ?? 'GET';
    const requestId = `req-${Math.random().toString(16).slice(2, 10)}`;
    res.setHeader('X-OpenStack-Request-Id', requestId);
    if (service === 'nova') res.setHeader('X-Compute-Request-Id', requestId);
    let call: ReturnType<CallLog['record']> | undefined;
    try {
      const raw = await readBody(req);
      let body: unknown;
      let bodyError: string | null = null;
      if (raw.trim() !== '') {
        try {
          body = JSON.parse(raw);
        } catch (e) {
          bodyError = e instanceof Error ? e.message : String(e);
        }
      }
      if (service !== null && service !== 'sim' && MUTATING.has(method)) {
        call = calls.record({
          method, path: `${path}${url.search}`, body: bodyError ? raw.replace(/./g, '*').slice(0, 64) : redact(body),
          time: new Date(world.now()).toISOString(), service, status: null,
        });
      }
      const faulty = service !== null && service !== 'sim' && faults.services.includes(service);
      if (faulty && faults.latencyMs > 0) await sleep(faults.latencyMs);
      if (faulty && faults.dropRate > 0 && Math.random() < faults.dropRate) {
        injected.drops += 1;
        if (call) call.status = 0;
        req.socket.destroy();
        return;
      }
      if (faulty && faults.errorRate > 0 && Math.random() < faults.errorRate) {
        injected.errors += 1;
        throw internalError(service);
      }
      if (bodyError !== null) throw malformed(service);
      const sreq: SimRequest = { method, url, path, headers: req.headers, body, rawBody: raw, bodyError };
      let r: SimResponse | null = null;
      switch (service) {
        case 'sim': r = await control.handle(sreq); break;
        case 'keystone': r = await keystone.handle(sreq); break;
        case 'nova': r = await nova.handle(sreq); break;
        case 'neutron': r = await neutron.handle(sreq); break;
        case 'placement': r = await placement.handle(sreq); break;
        case 'cinder': r = await cinder.handle(sreq); break;
        case 'glance': r = await glance.handle(sreq); break;
        case 'redfish': r = await redfish.handle(sreq); break;
        case 'cloudpods': r = await cloudpods.handle(sreq); break;
        default: r = null;
      }
      if (!r) throw new SimHttpError(404, { error: `nothing at ${path}` });
      const dropAfter = !r.drop && faulty && faults.dropAfterRate > 0 && Math.random() < faults.dropAfterRate;
      if (r.drop || dropAfter) {
        if (dropAfter) injected.dropsAfter += 1;
        if (call) call.status = 0;
        req.socket.destroy();
        return;
      }
      if (r.delayMs && r.delayMs > 0) await sleep(r.delayMs);
      const rule = service !== null && service !== 'sim' && r.status < 300 ? takeRule(faults.corrupt, method, `${path}${url.search}`) : null;
      if (rule) {
        injected.corrupted += 1;
        r = corruptAnswer(rule, r);
      }
      if (call) call.status = r.status;
      send(res, r);
    } catch (err) {
      if (err instanceof SimHttpError) {
        if (call) call.status = err.status;
        send(res, { status: err.status, body: err.body, headers: { ...err.headers } });
        return;
      }
      log.error({ err, path }, 'simulator request failed');
      const e = internalError(service);
      if (call) call.status = 500;
      if (!res.headersSent) send(res, { status: 500, body: e.body });
      else res.destroy();
    }
  });
  server.keepAliveTimeout = 5000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  urls.base = `http://${host}:${port}`;
  log.info({ port }, 'cloud simulator listening');
  return {
    server, port, base: urls.base, keystone, cloudpods, calls, faults,
    async close() {
      world.setScheduleListener(undefined);
      if (timer) clearTimeout(timer);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}
