import { OpenStackError } from './errors.js';
import type { KeystoneSession } from './keystone.js';
import type { CallOptions, NeutronApi, Port } from './types.js';

type Json = Record<string, unknown>;

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** One port of Neutron's answer; a port without an id is not a port (the answer is malformed). */
export function toPort(raw: unknown, path: string): Port {
  const p = (typeof raw === 'object' && raw !== null ? raw : {}) as Json;
  const id = str(p.id);
  if (!id) {
    throw new OpenStackError('neutron_bad_response', `Neutron answered a port without an id for ${path}`, { service: 'neutron', method: 'GET', path });
  }
  const ips = Array.isArray(p.fixed_ips) ? p.fixed_ips : [];
  return {
    id,
    deviceId: str(p.device_id) ?? '',
    networkId: str(p.network_id) ?? '',
    status: str(p.status) ?? 'UNKNOWN',
    // Absent when the token may not read bindings (they are admin-only by Neutron's default policy).
    hostId: 'binding:host_id' in p ? (str(p['binding:host_id']) ?? '') : null,
    vifType: str(p['binding:vif_type']),
    fixedIps: ips.map((x) => str((x as Json | null)?.ip_address)).filter((x): x is string => x !== null),
    securityGroups: Array.isArray(p.security_groups) ? p.security_groups.filter((g): g is string => typeof g === 'string') : [],
  };
}

/** Neutron over HTTP: the ports of a server, to tell whether its network came back with it. */
export class NeutronClient implements NeutronApi {
  readonly #session: KeystoneSession;

  constructor(session: KeystoneSession) {
    this.#session = session;
  }

  async listPorts(deviceId: string, opts: CallOptions = {}): Promise<Port[]> {
    const base = (await this.#session.endpoint('network', opts.signal)).replace(/\/+$/, '');
    const root = /\/v2\.0$/.test(base) ? base : `${base}/v2.0`;
    const url = `${root}/ports?device_id=${encodeURIComponent(deviceId)}`;
    const res = await this.#session.send<{ ports?: unknown }>({ service: 'neutron', method: 'GET', url, idempotent: true, signal: opts.signal });
    const path = new URL(url).pathname;
    if (!Array.isArray(res.data?.ports)) {
      throw new OpenStackError('neutron_bad_response', `Neutron answered ${path} without a ports list`, { service: 'neutron', method: 'GET', path, status: res.status });
    }
    return res.data.ports.map((p) => toPort(p, path));
  }
}
