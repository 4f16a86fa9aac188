import { randomBytes } from 'node:crypto';
import { SimHttpError } from './http-error.js';
import type { SimRequest, SimResponse } from './http-types.js';
import type { SimHost } from './types.js';
import type { World } from './world.js';

export const RESET_TYPES = ['On', 'ForceOff', 'GracefulShutdown', 'GracefulRestart', 'ForceRestart', 'PowerCycle', 'Nmi'] as const;
type ResetType = (typeof RESET_TYPES)[number];

function redfishError(status: number, messageId: string, message: string, headers: Record<string, string> = {}): SimHttpError {
  return new SimHttpError(status, {
    error: {
      code: 'Base.1.8.GeneralError',
      message: 'A general error has occurred. See ExtendedInfo for more information.',
      '@Message.ExtendedInfo': [{
        '@odata.type': '#Message.v1_1_1.Message', MessageId: `Base.1.8.${messageId}`, Message: message, Severity: 'Critical',
        Resolution: 'None',
      }],
    },
  }, headers);
}

const unauthorized = () => redfishError(401, 'NoValidSession', 'There is no valid session established with the implementation.', {
  'WWW-Authenticate': 'Basic realm="Redfish"',
});

/**
 * One Redfish service that stands in for every host's BMC: each host's system lives at
 * /redfish/v1/Systems/{host} and only that host's BMC credentials (basic auth or a session) reach it.
 */
export class Redfish {
  private readonly sessions = new Map<string, { id: string; host: string; user: string }>();

  constructor(private readonly world: World) {}

  private hostByCredentials(user: string, password: string): SimHost | undefined {
    return this.world.hostList.find((h) => h.bmc.username === user && h.bmc.password === password);
  }

  /** The host whose BMC the caller authenticated to, or undefined. */
  private caller(req: SimRequest): SimHost | undefined {
    const token = req.headers['x-auth-token'];
    if (typeof token === 'string') {
      const s = this.sessions.get(token);
      return s ? this.world.host(s.host) : undefined;
    }
    const auth = req.headers.authorization;
    if (typeof auth === 'string' && auth.startsWith('Basic ')) {
      const text = Buffer.from(auth.slice(6), 'base64').toString('utf8');
      const i = text.indexOf(':');
      if (i < 0) return undefined;
      return this.hostByCredentials(text.slice(0, i), text.slice(i + 1));
    }
    return undefined;
  }

  /** A BMC that is broken answers like one: 500s, or nothing at all. */
  private bmcGate(h: SimHost): SimResponse | null {
    if (h.bmc.mode === 'unreachable') return { status: 0, drop: true };
    if (h.bmc.mode === 'error') throw redfishError(500, 'InternalError', 'The request failed due to an internal service error.');
    return null;
  }

  async handle(req: SimRequest): Promise<SimResponse | null> {
    if (!req.path.startsWith('/redfish')) return null;
    const p = req.path.replace(/\/+$/, '');
    const odata = { 'OData-Version': '4.0' };
    if (p === '/redfish' && req.method === 'GET') return { status: 200, body: { v1: '/redfish/v1/' }, headers: odata };
    if (p === '/redfish/v1' && req.method === 'GET') return { status: 200, body: this.serviceRoot(), headers: odata };
    if (p === '/redfish/v1/SessionService/Sessions' && req.method === 'POST') return this.createSession(req);
    this.world.advance();
    const m = /^\/redfish\/v1\/SessionService\/Sessions\/([^/]+)$/.exec(p);
    if (m) {
      const caller = this.caller(req);
      const entry = [...this.sessions.entries()].find(([, s]) => s.id === m[1]);
      if (!caller) throw unauthorized();
      if (!entry || entry[1].host !== caller.name) throw redfishError(404, 'ResourceMissingAtURI', `The resource at the URI ${p} was not found.`);
      if (req.method === 'DELETE') {
        this.sessions.delete(entry[0]);
        return { status: 204 };
      }
      if (req.method === 'GET') return { status: 200, body: this.sessionBody(entry[1]), headers: odata };
    }
    if (p === '/redfish/v1/SessionService' && req.method === 'GET') {
      return {
        status: 200, headers: odata,
        body: {
          '@odata.id': '/redfish/v1/SessionService', '@odata.type': '#SessionService.v1_1_8.SessionService', Id: 'SessionService',
          Name: 'Session Service', ServiceEnabled: true, SessionTimeout: 1800, Sessions: { '@odata.id': '/redfish/v1/SessionService/Sessions' },
        },
      };
    }
    const caller = this.caller(req);
    if (p === '/redfish/v1/Systems' && req.method === 'GET') {
      if (!caller) throw unauthorized();
      const gate = this.bmcGate(caller);
      if (gate) return gate;
      return {
        status: 200, headers: odata,
        body: {
          '@odata.id': '/redfish/v1/Systems', '@odata.type': '#ComputerSystemCollection.ComputerSystemCollection',
          Name: 'Computer System Collection', 'Members@odata.count': 1, Members: [{ '@odata.id': `/redfish/v1/Systems/${caller.name}` }],
        },
      };
    }
    const sys = /^\/redfish\/v1\/Systems\/([^/]+)(\/Actions\/ComputerSystem\.Reset)?$/.exec(p);
    if (sys) {
      const name = decodeURIComponent(sys[1]!);
      const host = this.world.host(name);
      if (host && host.bmc.mode === 'unreachable') return { status: 0, drop: true };
      if (!caller || !host || caller !== host) {
        if (!caller) throw unauthorized();
        throw redfishError(404, 'ResourceMissingAtURI', `The resource at the URI ${p} was not found.`);
      }
      const gate = this.bmcGate(host);
      if (gate) return gate;
      if (!sys[2] && req.method === 'GET') return { status: 200, body: this.systemBody(host), headers: { ...odata, ETag: `W/"${host.power}${host.bootGeneration}"` } };
      if (sys[2] && req.method === 'POST') return this.reset(req, host);
      throw redfishError(405, 'OperationNotAllowed', 'The HTTP method is not allowed on this resource.');
    }
    throw redfishError(404, 'ResourceMissingAtURI', `The resource at the URI ${p} was not found.`);
  }

  private serviceRoot() {
    return {
      '@odata.id': '/redfish/v1/', '@odata.type': '#ServiceRoot.v1_5_0.ServiceRoot', Id: 'RootService', Name: 'Root Service',
      RedfishVersion: '1.11.0', UUID: '92384634-2938-2342-8820-489239905423',
      Systems: { '@odata.id': '/redfish/v1/Systems' },
      SessionService: { '@odata.id': '/redfish/v1/SessionService' },
      Links: { Sessions: { '@odata.id': '/redfish/v1/SessionService/Sessions' } },
    };
  }

  private systemBody(h: SimHost) {
    return {
      '@odata.id': `/redfish/v1/Systems/${h.name}`, '@odata.type': '#ComputerSystem.v1_13_0.ComputerSystem',
      Id: h.name, Name: h.name, HostName: h.name, SystemType: 'Physical', Manufacturer: 'cmpha', Model: 'Simulated Server',
      SerialNumber: `SIM${String(h.index).padStart(6, '0')}`, UUID: h.hypervisorUuid,
      PowerState: h.power === 'on' ? 'On' : 'Off',
      Status: { State: 'Enabled', Health: 'OK' },
      Actions: {
        '#ComputerSystem.Reset': {
          target: `/redfish/v1/Systems/${h.name}/Actions/ComputerSystem.Reset`,
          'ResetType@Redfish.AllowableValues': [...RESET_TYPES],
        },
      },
    };
  }

  private sessionBody(s: { id: string; user: string }) {
    return {
      '@odata.id': `/redfish/v1/SessionService/Sessions/${s.id}`, '@odata.type': '#Session.v1_3_0.Session',
      Id: s.id, Name: 'User Session', UserName: s.user,
    };
  }

  private createSession(req: SimRequest): SimResponse {
    const body = req.body as { UserName?: unknown; Password?: unknown } | undefined;
    if (typeof body?.UserName !== 'string' || typeof body.Password !== 'string') {
      throw redfishError(400, 'PropertyMissing', 'The property UserName or Password is a required property and must be included in the request.');
    }
    const host = this.hostByCredentials(body.UserName, body.Password);
    if (!host) throw unauthorized();
    const gate = this.bmcGate(host);
    if (gate) return gate;
    const token = randomBytes(24).toString('hex');
    const session = { id: randomBytes(8).toString('hex'), host: host.name, user: body.UserName };
    this.sessions.set(token, session);
    const location = `/redfish/v1/SessionService/Sessions/${session.id}`;
    return { status: 201, headers: { 'X-Auth-Token': token, Location: location, 'OData-Version': '4.0' }, body: this.sessionBody(session) };
  }

  private reset(req: SimRequest, h: SimHost): SimResponse {
    const type = (req.body as { ResetType?: unknown } | undefined)?.ResetType;
    if (typeof type !== 'string' || !(RESET_TYPES as readonly string[]).includes(type)) {
      throw redfishError(400, 'ActionParameterValueNotInList',
        `The value ${JSON.stringify(type ?? null)} for the parameter ResetType in the action ComputerSystem.Reset is not in the list of acceptable values.`);
    }
    const w = this.world;
    const stuck = h.bmc.mode === 'stuck-on';
    switch (type as ResetType) {
      case 'ForceOff':
        if (!stuck) w.powerOff(h);
        break;
      case 'On':
        w.powerOn(h);
        break;
      case 'GracefulShutdown':
        // a hung OS ignores the ACPI request
        if (!stuck && h.power === 'on' && !h.hung) {
          const gen = h.bootGeneration;
          w.schedule(w.now() + w.settings.gracefulShutdownMs, (t) => {
            if (h.bootGeneration === gen && !h.hung) w.powerOff(h, t);
          });
        }
        break;
      case 'GracefulRestart':
        if (!stuck && h.power === 'on' && !h.hung) {
          w.powerOff(h);
          w.powerOn(h);
        }
        break;
      case 'ForceRestart':
      case 'PowerCycle':
        if (!stuck) {
          w.powerOff(h);
          w.powerOn(h);
        } else if (h.power === 'off') w.powerOn(h);
        break;
      case 'Nmi':
        break;
    }
    return { status: 204 };
  }
}
