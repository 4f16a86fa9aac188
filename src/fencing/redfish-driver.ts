import type { RedfishOptions } from './redfish-keys.js';
import type { Secret } from '../config/secret.js';
import { CmphaError } from '../shared/errors.js';
import type { OutgoingProxy } from '../shared/outgoing-proxy.js';
import { silentLogger, type Logger } from '../shared/logger.js';
import { FenceCode } from './codes.js';
import { RedfishHttp, type RedfishResponse } from './redfish-http.js';
import type { FenceDriver, PowerReading, PowerState } from './types.js';

export interface RedfishDriverOptions {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly username: string;
  readonly password: Secret;
  readonly redfish: RedfishOptions;
  /** PEM text of the CA named by redfish_cacert (read by the caller). */
  readonly ca?: string;
  /** Per HTTP call; BMCs are slow, but a call that takes longer than this is not coming back. */
  readonly requestTimeoutMs?: number;
  /** [cloud] proxy; unset: direct. */
  readonly proxy?: OutgoingProxy;
  readonly logger?: Logger;
}

const SYSTEMS = '/redfish/v1/Systems';
const SESSIONS = '/redfish/v1/SessionService/Sessions';

interface ComputerSystem {
  readonly PowerState?: unknown;
  readonly Actions?: Record<string, { target?: unknown; 'ResetType@Redfish.AllowableValues'?: unknown } | undefined>;
}

type AuthHeaders = Record<string, string>;

/**
 * Fences through a BMC's Redfish API: finds the ComputerSystem, reads PowerState, and posts
 * ComputerSystem.Reset {ResetType: ForceOff} to the target the BMC advertises (vendors put it in different places).
 * With `auth = session` it logs in per operation and always deletes the session, since BMCs have few slots.
 */
export class RedfishDriver implements FenceDriver {
  readonly kind = 'redfish' as const;
  readonly target: string;
  private readonly opts: RedfishDriverOptions;
  private readonly http: RedfishHttp;
  private readonly logger: Logger;
  private readonly timeoutMs: number;
  private systemPath: string | undefined;

  constructor(opts: RedfishDriverOptions) {
    this.opts = opts;
    this.http = new RedfishHttp({
      name: opts.name, scheme: opts.redfish.scheme, address: opts.address, port: opts.port,
      insecure: opts.redfish.insecure, ...(opts.ca ? { ca: opts.ca } : {}), ...(opts.proxy ? { proxy: opts.proxy } : {}),
    });
    this.target = this.http.base;
    this.timeoutMs = opts.requestTimeoutMs ?? 10_000;
    this.logger = (opts.logger ?? silentLogger).child({ host: opts.name, bmc: 'redfish' });
    if (opts.redfish.system) this.systemPath = systemPathFor(opts.redfish.system);
  }

  async powerStatus(signal: AbortSignal): Promise<PowerState> {
    return (await this.readPower(signal)).state;
  }

  async readPower(signal: AbortSignal): Promise<PowerReading> {
    const system = await this.withAuth(signal, (auth) => this.getSystem(auth, signal));
    return readingOf(system.body.PowerState);
  }

  async powerOff(signal: AbortSignal): Promise<void> {
    await this.withAuth(signal, (auth) => this.reset(auth, 'ForceOff', 'Off', signal));
  }

  async powerOn(signal: AbortSignal): Promise<void> {
    await this.withAuth(signal, (auth) => this.reset(auth, 'On', 'On', signal));
  }

  private async reset(auth: AuthHeaders, resetType: string, done: 'On' | 'Off', signal: AbortSignal): Promise<void> {
    const system = await this.getSystem(auth, signal);
    // Already there: some BMCs answer a ForceOff of an off system with an error, so do not ask.
    if (system.body.PowerState === done) return;
    const action = system.body.Actions?.['#ComputerSystem.Reset'];
    const target = typeof action?.target === 'string' ? pathOf(action.target) : undefined;
    if (!target) {
      throw new CmphaError(FenceCode.error, `${this.opts.name}: ${system.path} advertises no #ComputerSystem.Reset action target`);
    }
    const allowed = action?.['ResetType@Redfish.AllowableValues'];
    if (Array.isArray(allowed) && !allowed.includes(resetType)) {
      throw new CmphaError(FenceCode.error, `${this.opts.name}: ${system.path} does not allow ResetType ${resetType} (allows ${allowed.join(', ')})`);
    }
    const res = await this.call('POST', target, auth, signal, { ResetType: resetType });
    if (res.status >= 200 && res.status < 300) return;
    // A refused reset may still mean the system got there (a race with another caller): believe only a fresh read.
    const again = await this.getSystem(auth, signal);
    if (again.body.PowerState === done) return;
    throw this.httpFailure(res, `POST ${target} {ResetType: ${resetType}}`);
  }

  private async getSystem(auth: AuthHeaders, signal: AbortSignal): Promise<{ path: string; body: ComputerSystem }> {
    const path = this.systemPath ?? (await this.discoverSystem(auth, signal));
    const res = await this.call('GET', path, auth, signal);
    if (res.status === 404) {
      throw new CmphaError(FenceCode.error, `${this.opts.name}: the BMC has no system ${path} (check redfish_system)`);
    }
    if (res.status !== 200) throw this.httpFailure(res, `GET ${path}`);
    return { path, body: parseJson<ComputerSystem>(res, this.opts.name, path) };
  }

  private async discoverSystem(auth: AuthHeaders, signal: AbortSignal): Promise<string> {
    const res = await this.call('GET', SYSTEMS, auth, signal);
    if (res.status !== 200) throw this.httpFailure(res, `GET ${SYSTEMS}`);
    const body = parseJson<{ Members?: unknown }>(res, this.opts.name, SYSTEMS);
    const members = Array.isArray(body.Members)
      ? body.Members.map((m: { '@odata.id'?: unknown }) => m?.['@odata.id']).filter((id): id is string => typeof id === 'string')
      : [];
    if (members.length === 1) {
      this.systemPath = pathOf(members[0]!);
      return this.systemPath;
    }
    if (members.length === 0) {
      throw new CmphaError(FenceCode.error, `${this.opts.name}: the BMC lists no systems under ${SYSTEMS}`);
    }
    const ids = members.map((m) => m.split('/').filter(Boolean).pop()).join(', ');
    throw new CmphaError(FenceCode.configInvalid, `${this.opts.name}: the BMC manages several systems (${ids}); set redfish_system in [host:${this.opts.name}] to the one that is this host`);
  }

  private async withAuth<T>(signal: AbortSignal, fn: (auth: AuthHeaders) => Promise<T>): Promise<T> {
    if (this.opts.redfish.auth === 'basic') {
      const token = Buffer.from(`${this.opts.username}:${this.opts.password.reveal()}`).toString('base64');
      return fn({ Authorization: `Basic ${token}` });
    }
    const login = await this.http.request('POST', SESSIONS, {
      body: { UserName: this.opts.username, Password: this.opts.password.reveal() },
      timeoutMs: this.timeoutMs, signal,
    });
    if (login.status !== 200 && login.status !== 201) throw this.httpFailure(login, `POST ${SESSIONS}`);
    const token = header(login, 'x-auth-token');
    if (!token) throw new CmphaError(FenceCode.error, `${this.opts.name}: the BMC created a session but sent no X-Auth-Token`);
    const location = header(login, 'location');
    const auth = { 'X-Auth-Token': token };
    try {
      return await fn(auth);
    } finally {
      if (location) await this.logout(pathOf(location), auth);
    }
  }

  private async logout(path: string, auth: AuthHeaders): Promise<void> {
    try {
      // Its own short deadline: a fence that was cancelled should still free the BMC's session slot.
      const res = await this.http.request('DELETE', path, { headers: auth, timeoutMs: this.timeoutMs, signal: AbortSignal.timeout(this.timeoutMs) });
      if (res.status >= 300 && res.status !== 404) this.logger.warn({ status: res.status, session: path }, 'BMC refused to delete the Redfish session');
    } catch (err) {
      this.logger.warn({ err: err instanceof Error ? err.message : String(err), session: path }, 'could not delete the Redfish session');
    }
  }

  private call(method: string, path: string, auth: AuthHeaders, signal: AbortSignal, body?: unknown): Promise<RedfishResponse> {
    return this.http.request(method, path, { headers: auth, body, timeoutMs: this.timeoutMs, signal });
  }

  private httpFailure(res: RedfishResponse, what: string): CmphaError {
    const said = redfishMessage(res);
    const where = `${this.opts.name}: ${what} at ${this.target} answered ${res.status}${said ? ` (${said})` : ''}`;
    if (res.status === 401) return new CmphaError(FenceCode.authFailed, `${where}: the BMC rejected the user name or password`);
    if (res.status === 403) return new CmphaError(FenceCode.authFailed, `${where}: the BMC user may not do this (needs power control rights)`);
    if (res.status === 503 || res.status === 502 || res.status === 504 || res.status === 429) {
      return new CmphaError(FenceCode.error, `${where}: the BMC is busy`, { retryable: true });
    }
    if (res.status >= 500) return new CmphaError(FenceCode.error, `${where}: BMC internal error`, { retryable: true });
    return new CmphaError(FenceCode.error, where);
  }
}

function readingOf(value: unknown): PowerReading {
  // Only "Off" proves the host is off. PoweringOff is still running; PoweringOn and Paused are running.
  if (value === 'Off') return { state: 'off', raw: 'PowerState Off' };
  if (value === 'On' || value === 'PoweringOff' || value === 'PoweringOn' || value === 'Paused') return { state: 'on', raw: `PowerState ${value}` };
  return { state: 'unknown', raw: `PowerState ${JSON.stringify(value ?? null).slice(0, 80)}` };
}

function systemPathFor(system: string): string {
  return system.startsWith('/') ? system : `${SYSTEMS}/${encodeURIComponent(system)}`;
}

/** Redfish links are usually paths but may be absolute URLs; we always talk to the configured address. */
function pathOf(link: string): string {
  if (link.startsWith('/')) return link;
  try {
    const u = new URL(link);
    return `${u.pathname}${u.search}`;
  } catch {
    return `/${link}`;
  }
}

function header(res: RedfishResponse, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function parseJson<T>(res: RedfishResponse, name: string, path: string): T {
  try {
    const body: unknown = JSON.parse(res.body);
    if (body && typeof body === 'object') return body as T;
  } catch {
    // fall through to the error below
  }
  throw new CmphaError(FenceCode.error, `${name}: ${path} did not return a JSON object`);
}

function redfishMessage(res: RedfishResponse): string | undefined {
  try {
    const body = JSON.parse(res.body) as { error?: { message?: unknown; '@Message.ExtendedInfo'?: { Message?: unknown }[] } };
    const info = body.error?.['@Message.ExtendedInfo']?.find((i) => typeof i?.Message === 'string')?.Message;
    const msg = typeof info === 'string' ? info : body.error?.message;
    return typeof msg === 'string' ? msg.slice(0, 200) : undefined;
  } catch {
    return undefined;
  }
}
