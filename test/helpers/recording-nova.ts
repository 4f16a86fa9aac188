import type { Aggregate, ServerGroup, CallOptions, ComputeService, Hypervisor, Migration, NovaApi, Server, ServiceUpdate } from '../../src/openstack/types.js';
import { CmphaError } from '../../src/shared/errors.js';

export interface RecordedCall {
  readonly method: string;
  readonly args: readonly unknown[];
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export interface FakeHostOptions {
  zone?: string;
  state?: 'up' | 'down';
  status?: 'enabled' | 'disabled';
  disabledReason?: string | null;
  forcedDown?: boolean;
  vcpus?: number;
  memoryMb?: number;
  /** false: the hypervisor reports no usage figures (microversion 2.88+). */
  usage?: boolean;
}

/**
 * An in-memory Nova that behaves like the real one where cmpha cares (nova-facts): evacuate refuses while
 * the source service is up and not forced down, an accepted evacuation moves through REBUILD and finishes
 * after a few reads, and every mutating call is recorded so a test can assert their order.
 */
export class RecordingNova implements NovaApi {
  readonly calls: RecordedCall[] = [];
  readonly services = new Map<string, Mutable<ComputeService>>();
  readonly hypervisors = new Map<string, Mutable<Hypervisor> & { usage: boolean }>();
  readonly servers = new Map<string, Mutable<Server>>();
  readonly migrations: Array<Mutable<Migration>> = [];
  readonly aggregates: Array<Mutable<Aggregate> & { hosts: string[] }> = [];
  /** An accepted evacuation completes after this many getServer reads of the server. */
  evacuateReads = 2;
  /** Optional interception of evacuate: return an error to throw it; `accept` says whether Nova took the request anyway. */
  onEvacuate?: (id: string, target: string | undefined) => { error: Error; accept: boolean } | undefined;
  /** Hosts the scheduler finds no room on: an evacuation there ends with its migration in `error`. */
  readonly fullHosts = new Set<string>();
  private readonly progress = new Map<string, { reads: number; target: string; migration: Mutable<Migration> }>();
  private seq = 0;

  addHost(host: string, o: FakeHostOptions = {}): this {
    this.services.set(host, {
      id: `svc-${host}`, binary: 'nova-compute', host, zone: o.zone ?? 'nova', state: o.state ?? 'up',
      status: o.status ?? 'enabled', forcedDown: o.forcedDown ?? false, disabledReason: o.disabledReason ?? null, updatedAt: new Date(),
    });
    this.hypervisors.set(host, {
      id: `hv-${host}`, hostname: host, serviceHost: host, state: o.state ?? 'up', status: o.status ?? 'enabled',
      vcpus: o.vcpus ?? 64, memoryMb: o.memoryMb ?? 262144, vcpusUsed: 0, memoryMbUsed: 0, usage: o.usage ?? true,
    });
    return this;
  }

  addServer(s: Partial<Server> & { id: string; host: string }): this {
    this.servers.set(s.id, {
      name: s.id, status: 'ACTIVE', taskState: null, vmState: 'active', addresses: [], metadata: {},
      userId: 'u1', projectId: 'p1', flavor: { vcpus: 2, ramMb: 4096 }, ...s,
    });
    this.recount();
    return this;
  }

  /** Host dies: Nova notices only later (state stays up until service_down_time), like the real thing. */
  markDown(host: string): void {
    this.services.get(host)!.state = 'down';
  }

  mutating(method?: string): RecordedCall[] {
    return this.calls.filter((c) => ['updateService', 'evacuate', 'addHostToAggregate', 'liveMigrate', 'reboot'].includes(c.method) && (!method || c.method === method));
  }

  evacuateCount(id: string): number {
    return this.calls.filter((c) => c.method === 'evacuate' && c.args[0] === id).length;
  }

  private recount(): void {
    for (const hv of this.hypervisors.values()) {
      const on = [...this.servers.values()].filter((s) => s.host === hv.serviceHost);
      hv.vcpusUsed = on.reduce((a, s) => a + (s.flavor.vcpus ?? 0), 0);
      hv.memoryMbUsed = on.reduce((a, s) => a + (s.flavor.ramMb ?? 0), 0);
    }
  }

  async microversion(): Promise<string> { return '2.87'; }

  async listComputeServices(opts: CallOptions & { host?: string } = {}): Promise<ComputeService[]> {
    this.calls.push({ method: 'listComputeServices', args: [opts.host] });
    return [...this.services.values()].filter((s) => !opts.host || s.host === opts.host).map((s) => ({ ...s }));
  }

  async updateService(id: string, update: ServiceUpdate): Promise<ComputeService> {
    this.calls.push({ method: 'updateService', args: [id, update] });
    const svc = [...this.services.values()].find((s) => s.id === id);
    if (!svc) throw new CmphaError('nova_not_found', `service ${id} not found`);
    if (update.forcedDown !== undefined) {
      svc.forcedDown = update.forcedDown;
      if (update.forcedDown) svc.state = 'down';
    }
    if (update.status) {
      svc.status = update.status;
      svc.disabledReason = update.status === 'disabled' ? (update.disabledReason ?? null) : null;
    }
    svc.updatedAt = new Date();
    const hv = this.hypervisors.get(svc.host);
    if (hv) { hv.status = svc.status; hv.state = svc.state; }
    return { ...svc };
  }

  async listHypervisors(): Promise<Hypervisor[]> {
    this.calls.push({ method: 'listHypervisors', args: [] });
    return [...this.hypervisors.values()].map(({ usage, ...hv }) => (usage ? { ...hv } : { ...hv, vcpusUsed: undefined, memoryMbUsed: undefined }));
  }

  async listAggregates(): Promise<Aggregate[]> {
    return this.aggregates.map((a) => ({ ...a, hosts: [...a.hosts] }));
  }

  async listServerGroups(): Promise<ServerGroup[]> {
    return [];
  }

  async addHostToAggregate(aggregateId: string, host: string): Promise<void> {
    this.calls.push({ method: 'addHostToAggregate', args: [aggregateId, host] });
    this.aggregates.find((a) => a.id === aggregateId)!.hosts.push(host);
  }

  async listServersOnHost(host: string): Promise<Server[]> {
    this.calls.push({ method: 'listServersOnHost', args: [host] });
    return [...this.servers.values()].filter((s) => s.host === host).map((s) => ({ ...s }));
  }

  /** Nova's `changes-since`: servers whose updatedAt is at or after `since` (those without one never match). */
  async listServersChangedSince(since: Date): Promise<Server[]> {
    this.calls.push({ method: 'listServersChangedSince', args: [since] });
    return [...this.servers.values()].filter((s) => s.updatedAt !== undefined && s.updatedAt >= since).map((s) => ({ ...s }));
  }

  async getServer(id: string): Promise<Server | null> {
    this.calls.push({ method: 'getServer', args: [id] });
    const p = this.progress.get(id);
    const s = this.servers.get(id);
    if (p && s) {
      p.reads += 1;
      if (p.reads >= this.evacuateReads) {
        this.progress.delete(id);
        s.host = p.target;
        s.status = 'ACTIVE';
        s.vmState = 'active';
        s.taskState = null;
        p.migration.status = 'done';
        p.migration.updatedAt = new Date();
        this.recount();
      }
    }
    return s ? { ...s } : null;
  }

  async reboot(id: string, type: 'HARD' | 'SOFT'): Promise<void> {
    this.calls.push({ method: 'reboot', args: [id, type] });
    if (!this.servers.has(id)) throw new CmphaError('nova_not_found', `Instance ${id} could not be found.`);
  }

  async resetState(id: string, state: 'active' | 'error'): Promise<void> {
    this.calls.push({ method: 'resetState', args: [id, state] });
    const s = this.servers.get(id);
    if (!s) throw new CmphaError('nova_not_found', `Instance ${id} could not be found.`);
    s.vmState = state;
    s.taskState = null;
    s.status = state === 'active' ? 'ACTIVE' : 'ERROR';
  }

  async lock(id: string, reason: string): Promise<void> {
    this.calls.push({ method: 'lock', args: [id, reason] });
    const s = this.servers.get(id);
    if (!s) throw new CmphaError('nova_not_found', `Instance ${id} could not be found.`);
    if (!s.locked) Object.assign(s, { locked: true, lockedReason: reason });
  }

  async listLockedServers(): Promise<Server[]> {
    this.calls.push({ method: 'listLockedServers', args: [] });
    return [...this.servers.values()].filter((s) => s.locked === true).map((s) => ({ ...s }));
  }

  async unlock(id: string): Promise<void> {
    this.calls.push({ method: 'unlock', args: [id] });
    const s = this.servers.get(id);
    if (!s) throw new CmphaError('nova_not_found', `Instance ${id} could not be found.`);
    Object.assign(s, { locked: false, lockedReason: null });
  }

  async powerAction(id: string, action: 'os-stop' | 'pause' | 'suspend'): Promise<void> {
    this.calls.push({ method: 'powerAction', args: [id, action] });
    const s = this.servers.get(id);
    if (!s) throw new CmphaError('nova_not_found', `Instance ${id} could not be found.`);
    const [status, vmState] = action === 'os-stop' ? ['SHUTOFF', 'stopped'] : action === 'pause' ? ['PAUSED', 'paused'] : ['SUSPENDED', 'suspended'];
    Object.assign(s, { status, vmState });
  }

  async evacuate(id: string, target?: string): Promise<void> {
    this.calls.push({ method: 'evacuate', args: [id, target] });
    const s = this.servers.get(id);
    if (!s) throw new CmphaError('nova_not_found', `Instance ${id} could not be found.`);
    const intercept = this.onEvacuate?.(id, target);
    if (intercept && !intercept.accept) throw intercept.error;
    const src = this.services.get(s.host!)!;
    if (!src.forcedDown && src.state === 'up') {
      throw new CmphaError('nova_bad_request', `Compute service of ${s.host} is still in use.`);
    }
    if (target !== undefined && !this.services.has(target)) throw new CmphaError('nova_not_found', `Compute host ${target} not found.`);
    const dest = target ?? [...this.services.values()].find((x) => x.host !== s.host && x.status === 'enabled' && x.state === 'up' && !this.fullHosts.has(x.host))?.host;
    const migration: Mutable<Migration> = {
      id: String(++this.seq), instanceId: id, type: 'evacuation', status: 'accepted', sourceCompute: s.host,
      destCompute: dest ?? null, createdAt: new Date(), updatedAt: new Date(),
    };
    this.migrations.push(migration);
    if (!dest || this.fullHosts.has(dest)) {
      migration.status = 'error';
      s.status = 'ERROR';
      s.vmState = 'error';
    } else {
      s.status = 'REBUILD';
      s.taskState = 'rebuilding';
      this.progress.set(id, { reads: 0, target: dest, migration });
    }
    if (intercept) throw intercept.error;
  }

  async liveMigrate(id: string, target?: string): Promise<void> {
    this.calls.push({ method: 'liveMigrate', args: [id, target] });
    const s = this.servers.get(id)!;
    const dest = target ?? [...this.services.values()].find((x) => x.host !== s.host && x.status === 'enabled' && x.state === 'up')!.host;
    s.host = dest;
    this.recount();
  }

  async listMigrations(filter: { instanceId?: string; host?: string; type?: string }): Promise<Migration[]> {
    this.calls.push({ method: 'listMigrations', args: [filter] });
    return this.migrations
      .filter((m) => (!filter.instanceId || m.instanceId === filter.instanceId) && (!filter.type || m.type === filter.type)
        && (!filter.host || m.sourceCompute === filter.host || m.destCompute === filter.host))
      .map((m) => ({ ...m }));
  }
}
