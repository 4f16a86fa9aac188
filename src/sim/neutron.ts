import { neutronError } from './http-error.js';
import type { SimRequest, SimResponse } from './http-types.js';
import type { Keystone } from './keystone.js';
import type { SimServer } from './types.js';
import type { World } from './world.js';

const NETWORK_IDS: Record<string, string> = {
  provider: '5c9e3b1e-0c3a-4a8e-9c55-3f0b0b1a0001',
  'tenant-net': '5c9e3b1e-0c3a-4a8e-9c55-3f0b0b1a0002',
};

/** The sliver of Neutron cmpha reads: ports by device and the networks they sit on. */
export class Neutron {
  constructor(
    private readonly world: World,
    private readonly keystone: Keystone,
  ) {}

  async handle(req: SimRequest): Promise<SimResponse | null> {
    if (!req.path.startsWith('/network')) return null;
    const p = req.path.replace(/\/+$/, '');
    if (p === '/network' && req.method === 'GET') {
      return { status: 200, body: { versions: [{ id: 'v2.0', status: 'CURRENT', links: [{ rel: 'self', href: `${req.url.origin}/network/v2.0/` }] }] } };
    }
    const token = this.keystone.authenticate(req);
    const admin = token.roles.includes('admin');
    this.world.advance();
    if (p === '/network/v2.0/ports' && req.method === 'GET') {
      const q = req.url.searchParams;
      const deviceIds = q.getAll('device_id');
      const network = q.get('network_id');
      let servers: SimServer[];
      if (deviceIds.length > 0) servers = deviceIds.map((id) => this.world.servers.get(id)).filter((s): s is SimServer => !!s);
      else servers = this.world.serverList.slice(0, 1000);
      if (!admin) servers = servers.filter((s) => s.projectId === token.projectId);
      const ports = servers.flatMap((s) => this.ports(s, admin)).filter((port) => network === null || port.network_id === network);
      return { status: 200, body: { ports } };
    }
    if (p === '/network/v2.0/networks' && req.method === 'GET') {
      const name = req.url.searchParams.get('name');
      const nets = Object.entries(NETWORK_IDS)
        .filter(([n]) => name === null || n === name)
        .map(([n, id]) => ({
          id, name: n, status: 'ACTIVE', admin_state_up: true, shared: n === 'provider', 'router:external': n === 'provider',
          'provider:network_type': n === 'provider' ? 'flat' : 'vxlan', subnets: [], tenant_id: '', project_id: '',
        }));
      return { status: 200, body: { networks: nets } };
    }
    throw neutronError(404, 'HTTPNotFound', 'The resource could not be found.');
  }

  /**
   * A server's ports as Neutron shows them: bound (`binding:host_id`) to the host it runs on. A host whose
   * ports cannot be bound answers `binding:vif_type` = `binding_failed` and status DOWN, as Neutron does when
   * no mechanism driver (no live L2 agent) can bind there. The `binding:*` fields are admin-only, as in
   * Neutron's default policy.
   */
  private ports(s: SimServer, admin: boolean) {
    const h = s.host ? this.world.host(s.host) : undefined;
    const failed = !!h && h.portBindingFails;
    const up = !!h && h.power === 'on' && !h.hung && s.vmState === 'active' && !failed;
    return s.addresses.map((a, i) => ({
      id: `${s.id.slice(0, 24)}${String(i).padStart(12, '0')}`,
      name: '', network_id: NETWORK_IDS[a.network] ?? a.network, mac_address: a.mac,
      fixed_ips: [{ subnet_id: `${NETWORK_IDS[a.network] ?? a.network}-subnet`, ip_address: a.addr }],
      device_id: s.id, device_owner: `compute:${s.az ?? 'nova'}`, status: up ? 'ACTIVE' : 'DOWN',
      admin_state_up: true,
      ...(admin ? { 'binding:host_id': s.host ?? '', 'binding:vif_type': failed ? 'binding_failed' : 'ovs', 'binding:vnic_type': 'normal' } : {}),
      tenant_id: s.projectId, project_id: s.projectId, security_groups: [],
    }));
  }
}
