import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

export interface RedfishSystemSpec {
  readonly id: string;
  /** 'On' | 'Off' normally; anything else to play a BMC in transition or a broken one (null: no PowerState). */
  power: string | null;
  /** Where the Reset action is advertised; vendors differ, so the default is deliberately not the usual path. */
  readonly resetTarget?: string;
  /** Accept ForceOff but keep the power on. */
  stuckOn?: boolean;
}

export interface RedfishServerOptions {
  readonly username: string;
  readonly password: string;
  readonly systems: readonly RedfishSystemSpec[];
  /** PEM key and certificate: serve HTTPS. Without them, plain HTTP. */
  readonly tls?: { readonly key: string; readonly cert: string };
}

export interface RecordedRedfishCall {
  readonly method: string;
  readonly path: string;
  readonly auth: 'basic' | 'session' | 'none' | 'bad';
  readonly body?: unknown;
}

export interface RedfishTestServer {
  readonly port: number;
  readonly systems: ReadonlyMap<string, RedfishSystemSpec>;
  readonly calls: RecordedRedfishCall[];
  openSessions(): number;
  close(): Promise<void>;
}

/**
 * A small Redfish BMC on loopback following the DMTF schema where cmpha relies on it: service root, Systems
 * collection, ComputerSystem with PowerState and Actions['#ComputerSystem.Reset'].target, Reset → 204, 401 on bad
 * basic auth, SessionService sessions with X-Auth-Token and Location. HTTPS when given a certificate.
 */
export async function startRedfishServer(opts: RedfishServerOptions): Promise<RedfishTestServer> {
  const systems = new Map(opts.systems.map((s) => [s.id, { ...s }]));
  const sessions = new Map<string, string>();
  const calls: RecordedRedfishCall[] = [];

  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => { raw += d; });
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '') || '/';
      const method = req.method ?? 'GET';
      let body: unknown;
      try { body = raw ? JSON.parse(raw) : undefined; } catch { body = raw; }
      const auth = authOf(req);
      calls.push({ method, path, auth, ...(body === undefined ? {} : { body }) });
      const send = (status: number, payload?: unknown, headers: Record<string, string> = {}) => {
        const text = payload === undefined ? '' : JSON.stringify(payload);
        res.writeHead(status, { 'OData-Version': '4.0', ...(text ? { 'Content-Type': 'application/json' } : {}), ...headers });
        res.end(text);
      };
      const error = (status: number, message: string, headers: Record<string, string> = {}) =>
        send(status, { error: { code: 'Base.1.8.GeneralError', message: 'A general error has occurred.', '@Message.ExtendedInfo': [{ Message: message }] } }, headers);

      if (path === '/redfish/v1' && method === 'GET') {
        return send(200, { '@odata.id': '/redfish/v1/', Systems: { '@odata.id': '/redfish/v1/Systems' }, Links: { Sessions: { '@odata.id': '/redfish/v1/SessionService/Sessions' } } });
      }
      if (path === '/redfish/v1/SessionService/Sessions' && method === 'POST') {
        const b = body as { UserName?: unknown; Password?: unknown } | undefined;
        if (b?.UserName !== opts.username || b?.Password !== opts.password) return error(401, 'Invalid user name or password.');
        const token = randomBytes(16).toString('hex');
        const id = randomBytes(4).toString('hex');
        sessions.set(token, id);
        // An absolute URL, as several BMCs send: the client must still talk to its configured address.
        return send(201, { Id: id }, { 'X-Auth-Token': token, Location: `https://bmc.invalid/redfish/v1/SessionService/Sessions/${id}` });
      }
      if (auth === 'none' || auth === 'bad') return error(401, 'There is no valid session established with the implementation.', { 'WWW-Authenticate': 'Basic realm="Redfish"' });
      const sessionDel = /^\/redfish\/v1\/SessionService\/Sessions\/([^/]+)$/.exec(path);
      if (sessionDel && method === 'DELETE') {
        for (const [token, id] of sessions) if (id === sessionDel[1]) sessions.delete(token);
        return send(204);
      }
      if (path === '/redfish/v1/Systems' && method === 'GET') {
        return send(200, { 'Members@odata.count': systems.size, Members: [...systems.keys()].map((id) => ({ '@odata.id': `/redfish/v1/Systems/${id}` })) });
      }
      for (const sys of systems.values()) {
        const target = sys.resetTarget ?? `/redfish/v1/Systems/${sys.id}/Actions/Oem/ComputerSystem.Reset`;
        if (path === `/redfish/v1/Systems/${sys.id}` && method === 'GET') {
          return send(200, {
            '@odata.id': `/redfish/v1/Systems/${sys.id}`, '@odata.type': '#ComputerSystem.v1_13_0.ComputerSystem', Id: sys.id, ...(sys.power === null ? {} : { PowerState: sys.power }),
            Actions: { '#ComputerSystem.Reset': { target, 'ResetType@Redfish.AllowableValues': ['On', 'ForceOff', 'GracefulShutdown', 'ForceRestart'] } },
          });
        }
        if (path === target && method === 'POST') {
          const type = (body as { ResetType?: unknown } | undefined)?.ResetType;
          if (type === 'ForceOff') { if (!sys.stuckOn) sys.power = 'Off'; return send(204); }
          if (type === 'On') { sys.power = 'On'; return send(204); }
          return error(400, `ResetType ${JSON.stringify(type)} is not supported.`);
        }
      }
      return error(404, `The resource at the URI ${path} was not found.`);
    });
  };

  function authOf(req: http.IncomingMessage): RecordedRedfishCall['auth'] {
    const token = req.headers['x-auth-token'];
    if (typeof token === 'string') return sessions.has(token) ? 'session' : 'bad';
    const h = req.headers.authorization;
    if (typeof h === 'string' && h.startsWith('Basic ')) {
      return Buffer.from(h.slice(6), 'base64').toString('utf8') === `${opts.username}:${opts.password}` ? 'basic' : 'bad';
    }
    return 'none';
  }

  const server = opts.tls ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert }, handler) : http.createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    systems,
    calls,
    openSessions: () => sessions.size,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
