import type {
  Aggregate, ServerGroup, ComputeService, Hypervisor, Migration, NovaApi, Server, ServiceUpdate,
} from '../../src/openstack/types.js';

/** One call the fake received, for asserting order and count. */
export interface NovaCall {
  readonly method: string;
  readonly args: readonly unknown[];
}

export interface FakeHost {
  name: string;
  zone?: string;
  state: 'up' | 'down';
  status: 'enabled' | 'disabled';
  forcedDown: boolean;
  disabledReason: string | null;
  updatedAt: Date | null;
  hostIp?: string;
}

/**
 * An in-memory NovaApi for unit tests: state is set directly, every call is recorded, and any method can
 * be made to fail with `failNext(method, error)`.
 */
export class FakeNova implements NovaApi {
  readonly calls: NovaCall[] = [];
  readonly hosts = new Map<string, FakeHost>();
  readonly servers: Server[] = [];
  private readonly failures = new Map<string, Error[]>();

  addHost(name: string, opts: Partial<Omit<FakeHost, 'name'>> = {}): FakeHost {
    const h: FakeHost = {
      name, state: 'up', status: 'enabled', forcedDown: false, disabledReason: null, updatedAt: new Date(), ...opts,
    };
    this.hosts.set(name, h);
    return h;
  }

  host(name: string): FakeHost {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`fake nova: no host ${name}`);
    return h;
  }

  addServer(host: string, name: string, addresses: Array<{ network: string; addr: string; version?: 4 | 6 }>): Server {
    const s: Server = {
      id: `id-${name}`, name, status: 'ACTIVE', taskState: null, vmState: 'active', host,
      addresses: addresses.map((a) => ({ network: a.network, addr: a.addr, version: a.version ?? 4, type: 'fixed' })),
      metadata: {}, userId: 'u', projectId: 'p', flavor: {},
    };
    this.servers.push(s);
    return s;
  }

  failNext(method: keyof NovaApi, error: Error = new Error(`${method} failed`)): void {
    const list = this.failures.get(method) ?? [];
    list.push(error);
    this.failures.set(method, list);
  }

  callsTo(method: keyof NovaApi): NovaCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  private enter(method: string, ...args: unknown[]): void {
    this.calls.push({ method, args });
    const f = this.failures.get(method)?.shift();
    if (f) throw f;
  }

  async microversion(): Promise<string> {
    this.enter('microversion');
    return '2.93';
  }

  async listComputeServices(opts?: { host?: string }): Promise<ComputeService[]> {
    this.enter('listComputeServices', opts?.host);
    return [...this.hosts.values()]
      .filter((h) => opts?.host === undefined || h.name === opts.host)
      .map((h) => ({
        id: `svc-${h.name}`, binary: 'nova-compute', host: h.name, zone: h.zone, state: h.state, status: h.status,
        forcedDown: h.forcedDown, disabledReason: h.disabledReason, updatedAt: h.updatedAt,
      }));
  }

  async updateService(id: string, update: ServiceUpdate): Promise<ComputeService> {
    this.enter('updateService', id, update);
    const h = [...this.hosts.values()].find((x) => `svc-${x.name}` === id);
    if (!h) throw new Error(`fake nova: no service ${id}`);
    if (update.status) h.status = update.status;
    if (update.disabledReason !== undefined) h.disabledReason = update.disabledReason;
    if (update.forcedDown !== undefined) h.forcedDown = update.forcedDown;
    h.updatedAt = new Date();
    return (await this.listComputeServices({ host: h.name }))[0]!;
  }

  async listHypervisors(): Promise<Hypervisor[]> {
    this.enter('listHypervisors');
    return [...this.hosts.values()].map((h, i) => ({
      id: String(i + 1), hostname: h.name, serviceHost: h.name, hostIp: h.hostIp, state: h.state, status: h.status,
    }));
  }

  async listAggregates(): Promise<Aggregate[]> {
    this.enter('listAggregates');
    return [];
  }

  async listServerGroups(): Promise<ServerGroup[]> {
    this.enter('listServerGroups');
    return [];
  }

  async addHostToAggregate(aggregateId: string, host: string): Promise<void> {
    this.enter('addHostToAggregate', aggregateId, host);
  }

  async listServersOnHost(host: string): Promise<Server[]> {
    this.enter('listServersOnHost', host);
    return this.servers.filter((s) => s.host === host);
  }

  /** Nova's `changes-since`: servers whose updatedAt is at or after `since` (those without one never match). */
  async listServersChangedSince(since: Date): Promise<Server[]> {
    this.enter('listServersChangedSince', since);
    return this.servers.filter((s) => s.updatedAt !== undefined && s.updatedAt >= since);
  }

  async getServer(id: string): Promise<Server | null> {
    this.enter('getServer', id);
    return this.servers.find((s) => s.id === id) ?? null;
  }

  async evacuate(id: string, target?: string): Promise<void> {
    this.enter('evacuate', id, target);
  }

  async liveMigrate(id: string, target?: string): Promise<void> {
    this.enter('liveMigrate', id, target);
  }

  async reboot(id: string, type: 'HARD' | 'SOFT'): Promise<void> {
    this.enter('reboot', id, type);
  }

  async resetState(id: string, state: 'active' | 'error'): Promise<void> {
    this.enter('resetState', id, state);
  }

  async lock(id: string, reason: string): Promise<void> {
    this.enter('lock', id, reason);
  }

  async listLockedServers(): Promise<Server[]> {
    this.enter('listLockedServers');
    return this.servers.filter((s) => s.locked === true);
  }

  async unlock(id: string): Promise<void> {
    this.enter('unlock', id);
  }

  async powerAction(id: string, action: 'os-stop' | 'pause' | 'suspend'): Promise<void> {
    this.enter('powerAction', id, action);
  }

  async listMigrations(filter: { instanceId?: string; host?: string; type?: string }): Promise<Migration[]> {
    this.enter('listMigrations', filter);
    return [];
  }
}
