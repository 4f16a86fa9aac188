import { EventEmitter } from 'node:events';
import type { SimClock } from './clock.js';
import { EventQueue } from './event-queue.js';
import { novaError } from './http-error.js';
import { novaStatus, powerStateOf } from './server-states.js';
import type { Rng } from './rng.js';
import type {
  VmState, AppCredential, BmcMode, Flavor, InstanceAction, LinkState, SimAggregate, SimDomain, SimHost, SimImage, SimMigration,
  SimProject, SimServer, SimServerGroup, SimUser, WorldSettings,
} from './types.js';

/** Who asked (from the token): recorded in instance actions and migrations. */
export interface Actor {
  readonly userId: string;
  readonly projectId: string;
}

export type AddressOwner = { kind: 'mgmt'; host: SimHost } | { kind: 'storage'; host: SimHost } | { kind: 'instance'; server: SimServer; network: string };

/** Networks whose addresses can answer a probe; the tenant overlay never answers from the controller. */
export const REACHABLE_NETWORKS = new Set(['provider']);

/** Deleted servers the simulated Nova still lists with changes-since (the oldest are forgotten first). */
const DELETED_KEPT = 10_000;

/** Nova's 409 for an action refused by check_instance_state. */
function invalidState(action: string, server: SimServer, attr: 'vm_state' | 'task_state', state: string): Error {
  return novaError(409, `Cannot '${action}' instance ${server.id} while it is in ${attr} ${state}`);
}

/** The power actions the simulator knows: allowed vm_states, the task while it runs, where it leads. */
const POWER_ACTIONS: Readonly<Record<string, { from: readonly VmState[]; task: string; to: VmState }>> = {
  'os-stop': { from: ['active', 'error', 'rescued', 'resized'], task: 'powering-off', to: 'stopped' },
  'os-start': { from: ['stopped'], task: 'powering-on', to: 'active' },
  pause: { from: ['active', 'rescued'], task: 'pausing', to: 'paused' },
  unpause: { from: ['paused'], task: 'unpausing', to: 'active' },
  suspend: { from: ['active'], task: 'suspending', to: 'suspended' },
  resume: { from: ['suspended'], task: 'resuming', to: 'active' },
  rescue: { from: ['active', 'stopped', 'error'], task: 'rescuing', to: 'rescued' },
  unrescue: { from: ['rescued'], task: 'unrescuing', to: 'active' },
  shelve: { from: ['active', 'stopped', 'paused', 'suspended'], task: 'shelving', to: 'shelved_offloaded' },
};

interface MoveOp {
  readonly kind: 'evacuation' | 'live-migration';
  readonly server: SimServer;
  readonly migration: SimMigration;
  readonly action: InstanceAction;
  readonly source: string;
  readonly requestedHost: string | null;
  readonly forced: boolean;
  /** Where resources were claimed, once scheduled. */
  claimedOn: SimHost | null;
  /** Shared by evacuations of one server that overlapped: the first to finish wins, the others fail. */
  race: { winnerDone: boolean } | null;
  finished: boolean;
}

/** Events the world emits after a change (the netns layer listens). */
export interface WorldEvents {
  host: [SimHost];
  server: [SimServer, string | null];
}

/**
 * The in-memory cloud: hosts with their power, BMC and nova-compute, the services Nova derives from them,
 * servers, migrations and Keystone's users. Nothing runs per host: heartbeats are computed from the clock,
 * and the few things that happen later (evacuation phases, boots, cleanups) sit in one time-ordered queue
 * that runs whenever the world is read (`advance`).
 */
export class World extends EventEmitter<WorldEvents> {
  readonly settings: WorldSettings;
  readonly clock: SimClock;
  readonly rng: Rng;
  readonly hosts = new Map<string, SimHost>();
  readonly hostList: SimHost[] = [];
  readonly servers = new Map<string, SimServer>();
  readonly serverList: SimServer[] = [];
  /**
   * What Nova keeps of deleted servers (its soft-deleted rows, until an operator archives them): listed only with
   * `changes-since`/`changes-before`, status DELETED, on the host they were on. The most recent DELETED_KEPT.
   */
  readonly deletedServers: SimServer[] = [];
  readonly migrations: SimMigration[] = [];
  readonly migrationsByInstance = new Map<string, SimMigration[]>();
  readonly aggregates: SimAggregate[] = [];
  readonly flavors: Flavor[] = [];
  /** Glance's images that have properties (the others are served with none). */
  readonly images = new Map<string, SimImage>();
  readonly serverGroups: SimServerGroup[] = [];
  readonly domains: SimDomain[] = [];
  readonly projects: SimProject[] = [];
  readonly users: SimUser[] = [];
  readonly appCredentials: AppCredential[] = [];
  readonly addressIndex = new Map<string, AddressOwner>();
  /** Control-plane services that are always up (nova-conductor, nova-scheduler). */
  readonly controlServices: { uuid: string; intId: number; binary: string; host: string; createdAt: number; stoppedAt?: number }[] = [];
  readonly startedAt: number;
  private readonly queue = new EventQueue();
  private readonly ops = new Map<string, MoveOp[]>();
  private nextMigrationId = 1;
  /** Creation counter for servers (their `index`): never reused, so addresses never repeat after a delete. */
  nextServerIndex = 0;
  private advancing = false;
  private onSchedule: (() => void) | undefined;

  constructor(settings: WorldSettings, clock: SimClock, rng: Rng) {
    super();
    this.settings = settings;
    this.clock = clock;
    this.rng = rng;
    this.startedAt = clock.now();
  }

  now(): number {
    return this.clock.now();
  }

  /** Called after something was queued, so the server can arm its single wake-up timer. */
  setScheduleListener(fn: (() => void) | undefined): void {
    this.onSchedule = fn;
  }

  schedule(at: number, run: (at: number) => void): void {
    this.queue.push(at, run);
    this.onSchedule?.();
  }

  nextEventTime(): number | undefined {
    return this.queue.peekTime();
  }

  /** Runs every queued event that is due, in time order, each at its own time. */
  advance(): void {
    if (this.advancing) return;
    this.advancing = true;
    try {
      const now = this.now();
      for (let ev = this.queue.popDue(now); ev; ev = this.queue.popDue(now)) ev.run(ev.at);
    } finally {
      this.advancing = false;
    }
  }

  // ---------------------------------------------------------------- registration (world building)

  addHost(host: SimHost): void {
    this.hosts.set(host.name, host);
    this.hostList.push(host);
    this.addressIndex.set(host.mgmtIp, { kind: 'mgmt', host });
    this.addressIndex.set(host.storageIp, { kind: 'storage', host });
  }

  addServer(server: SimServer): void {
    this.nextServerIndex = Math.max(this.nextServerIndex, server.index + 1);
    this.servers.set(server.id, server);
    this.serverList.push(server);
    for (const a of server.addresses) this.addressIndex.set(a.addr, { kind: 'instance', server, network: a.network });
    if (server.host) {
      const host = this.hosts.get(server.host);
      if (host) {
        host.servers.add(server.id);
        this.claim(host, server.flavor, 1);
      }
      // A server added to a running world (control API, benches) gets its addresses in its host's namespace.
      this.emit('server', server, server.host);
    }
  }

  /** Removes a server (DELETE /servers/{id}): frees its resources and addresses; running moves just end. */
  deleteServer(id: string): boolean {
    const s = this.servers.get(id);
    if (!s) return false;
    for (const g of this.serverGroups) {
      const i = g.members.indexOf(id);
      if (i >= 0) g.members.splice(i, 1);
    }
    for (const op of this.ops.get(id) ?? []) {
      if (op.finished) continue;
      this.finishOp(op);
      this.releaseClaim(op);
      op.migration.status = 'cancelled';
      op.migration.updatedAt = this.now();
    }
    this.ops.delete(id);
    this.servers.delete(id);
    const at = this.serverList[s.index] === s ? s.index : this.serverList.indexOf(s);
    if (at >= 0) this.serverList.splice(at, 1);
    for (const a of s.addresses) if (this.addressIndex.get(a.addr)?.kind === 'instance') this.addressIndex.delete(a.addr);
    const from = s.host;
    if (from) {
      const h = this.hosts.get(from);
      if (h?.servers.delete(id)) this.claim(h, s.flavor, -1);
    }
    const deletedAt = this.now();
    // Nova's row stays, marked deleted: its host is kept, its network info cache is emptied, updated_at moves.
    this.deletedServers.push({ ...s, vmState: 'deleted', taskState: null, powerState: 0, addresses: [], updatedAt: deletedAt, terminatedAt: deletedAt, fault: null });
    if (this.deletedServers.length > DELETED_KEPT) this.deletedServers.splice(0, this.deletedServers.length - DELETED_KEPT);
    s.host = null;
    this.emit('server', s, from);
    return true;
  }

  /** Position of a server in `serverList` (creation order), or -1. */
  positionOf(s: SimServer): number {
    const i = this.serverList[s.index];
    if (i === s) return s.index;
    // after deletions positions shift: binary search on the creation index
    let lo = 0;
    let hi = this.serverList.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const x = this.serverList[mid]!;
      if (x === s) return mid;
      if (x.index < s.index) lo = mid + 1;
      else hi = mid - 1;
    }
    return this.serverList.indexOf(s);
  }

  host(name: string): SimHost | undefined {
    return this.hosts.get(name);
  }

  // ---------------------------------------------------------------- liveness, exactly as Nova derives it

  novaComputeRunning(h: SimHost): boolean {
    return h.novaComputeStartedAt !== null;
  }

  /** Heartbeats reach the database while the host is on, not hung, nova-compute runs and its management link is up. */
  private shouldHeartbeat(h: SimHost): boolean {
    return h.power === 'on' && !h.hung && h.novaComputeStartedAt !== null && h.mgmtLink === 'up';
  }

  lastHeartbeat(h: SimHost, now = this.now()): number | null {
    if (h.hbOrigin !== null) {
      const interval = this.settings.reportIntervalMs;
      if (now < h.hbOrigin) return h.hbLast;
      return h.hbOrigin + Math.floor((now - h.hbOrigin) / interval) * interval;
    }
    return h.hbLast;
  }

  /** Re-evaluates whether heartbeats flow after a change at time `at`. */
  private refreshHeartbeat(h: SimHost, at: number): void {
    const beat = this.shouldHeartbeat(h);
    if (beat && h.hbOrigin === null) {
      h.hbOrigin = at;
      h.hbLast = at;
    } else if (!beat && h.hbOrigin !== null) {
      h.hbLast = this.lastHeartbeat(h, at);
      h.hbOrigin = null;
    }
  }

  /** Nova's servicegroup DB driver: down when forced down or the last heartbeat is older than service_down_time. */
  serviceUp(h: SimHost, now = this.now()): boolean {
    if (h.forcedDown) return false;
    const last = this.lastHeartbeat(h, now) ?? h.createdAt;
    return now - last <= this.settings.serviceDownTimeMs;
  }

  /** updated_at moves with heartbeats and with every PUT /os-services. */
  serviceUpdatedAt(h: SimHost, now = this.now()): number | null {
    const hb = this.lastHeartbeat(h, now);
    const put = h.lastUpdateAt;
    if (hb === null) return put;
    if (put === null) return hb;
    return Math.max(hb, put);
  }

  /** Whether an RPC call to the host's nova-compute would be answered now. */
  computeAnswers(h: SimHost): boolean {
    return this.shouldHeartbeat(h);
  }

  // ---------------------------------------------------------------- host control

  powerOff(h: SimHost, at = this.now()): void {
    if (h.power === 'off') return;
    h.power = 'off';
    h.hung = false;
    h.bootGeneration += 1;
    h.novaComputeStartedAt = null;
    this.refreshHeartbeat(h, at);
    this.emit('host', h);
  }

  powerOn(h: SimHost, at = this.now()): void {
    if (h.power === 'on') return;
    h.power = 'on';
    h.hung = false;
    h.poweredOnAt = at;
    h.bootGeneration += 1;
    const generation = h.bootGeneration;
    this.schedule(at + this.settings.bootMs, (t) => {
      if (h.bootGeneration !== generation || h.power !== 'on') return;
      if (h.novaComputeWanted) this.startNovaCompute(h, t);
    });
    this.emit('host', h);
  }

  /** A hung host: the BMC still says On, heartbeats stop, no address answers. */
  hang(h: SimHost, at = this.now()): void {
    if (h.power === 'off' || h.hung) return;
    h.hung = true;
    h.hungAt = at;
    this.refreshHeartbeat(h, at);
    this.emit('host', h);
  }

  unhang(h: SimHost, at = this.now()): void {
    if (!h.hung) return;
    h.hung = false;
    this.refreshHeartbeat(h, at);
    this.emit('host', h);
  }

  stopNovaCompute(h: SimHost, at = this.now()): void {
    h.novaComputeWanted = false;
    if (h.novaComputeStartedAt === null) return;
    h.novaComputeStartedAt = null;
    this.refreshHeartbeat(h, at);
    this.emit('host', h);
  }

  /** Starts nova-compute (if the host is up): it reports at once, syncs its trait and cleans up evacuations. */
  startNovaCompute(h: SimHost, at = this.now()): void {
    h.novaComputeWanted = true;
    if (h.power !== 'on' || h.novaComputeStartedAt !== null) return;
    if (at < h.poweredOnAt + this.settings.bootMs) return; // the boot event will start it
    h.novaComputeStartedAt = at;
    h.traitDisabled = h.disabled;
    this.refreshHeartbeat(h, at);
    const startedAt = at;
    this.schedule(at + this.settings.cleanupMs, (t) => {
      if (h.novaComputeStartedAt !== startedAt) return;
      this.cleanupEvacuations(h, t);
    });
    this.failInterruptedRebuilds(h, at);
    this.emit('host', h);
  }

  setMgmtLink(h: SimHost, state: LinkState, at = this.now()): void {
    if (h.mgmtLink === state) return;
    h.mgmtLink = state;
    this.refreshHeartbeat(h, at);
    this.emit('host', h);
  }

  /** The storage network carries no heartbeat: only its address stops answering. */
  setStorageLink(h: SimHost, state: LinkState): void {
    if (h.storageLink === state) return;
    h.storageLink = state;
    this.emit('host', h);
  }

  setInstanceLink(h: SimHost, state: LinkState): void {
    if (h.instanceLink === state) return;
    h.instanceLink = state;
    this.emit('host', h);
  }

  /** ICMP dropped or allowed again; heartbeats are not affected. */
  setPingBlocked(h: SimHost, blocked: boolean): void {
    if (h.pingBlocked === blocked) return;
    h.pingBlocked = blocked;
    this.emit('host', h);
  }

  setPortBindingFails(h: SimHost, fails: boolean): void {
    if (h.portBindingFails === fails) return;
    h.portBindingFails = fails;
    this.emit('host', h);
  }

  setBmcMode(h: SimHost, mode: BmcMode): void {
    h.bmc.mode = mode;
  }

  /** The source host's nova-compute destroys evacuated guests and marks their migrations completed. */
  private cleanupEvacuations(h: SimHost, at: number): void {
    for (const m of this.migrations) {
      if (m.migrationType === 'evacuation' && m.sourceCompute === h.name && m.status === 'done') {
        m.status = 'completed';
        m.updatedAt = at;
      }
    }
  }

  /** nova-compute's init_host: a rebuild it was running when it died is put into ERROR. */
  private failInterruptedRebuilds(h: SimHost, at: number): void {
    for (const list of this.ops.values()) {
      for (const op of list) {
        if (op.finished || op.claimedOn !== h || op.kind !== 'evacuation') continue;
        this.finishOp(op);
        op.migration.status = 'failed';
        op.migration.updatedAt = at;
        op.server.vmState = 'error';
        op.server.taskState = null;
        op.server.updatedAt = at;
        this.releaseClaim(op);
        this.endAction(op.action, at, 'Error', 'compute_rebuild_instance');
        this.emit('server', op.server, op.server.host);
      }
    }
  }

  // ---------------------------------------------------------------- services

  /**
   * Applies a PUT /os-services change. Returns how long nova-api would block on an RPC to a compute that it
   * still believes is up but that does not answer (0 when it answers or is seen down).
   */
  updateService(h: SimHost, change: { status?: 'enabled' | 'disabled'; disabledReason?: string | null; forcedDown?: boolean }): number {
    const at = this.now();
    let rpcDelay = 0;
    if (change.forcedDown !== undefined) h.forcedDown = change.forcedDown;
    if (change.status !== undefined) {
      const wasDisabled = h.disabled;
      h.disabled = change.status === 'disabled';
      h.disabledReason = h.disabled ? (change.disabledReason ?? null) : null;
      if (wasDisabled !== h.disabled) {
        if (this.serviceUp(h, at)) {
          if (this.computeAnswers(h)) h.traitDisabled = h.disabled;
          else rpcDelay = this.settings.rpcTimeoutMs; // the trait is synced by the periodic task later
        }
        if (h.traitDisabled !== h.disabled) {
          this.schedule(at + this.settings.periodicMs, () => {
            if (this.computeAnswers(h)) h.traitDisabled = h.disabled;
          });
        }
      }
    } else if (change.disabledReason !== undefined && h.disabled) {
      h.disabledReason = change.disabledReason;
    }
    h.lastUpdateAt = at;
    return rpcDelay;
  }

  /** Evacuation migrations still `done` for this source host (they block forced_down=false). */
  doneEvacuationsFrom(host: string): SimMigration[] {
    return this.migrations.filter((m) => m.migrationType === 'evacuation' && m.sourceCompute === host && m.status === 'done');
  }

  // ---------------------------------------------------------------- servers

  serverStatus(s: SimServer): string {
    return novaStatus(s.vmState, s.taskState);
  }

  /** Resources a server takes on a host (also the Cloudpods region's scheduler, src/sim/cloudpods.ts). */
  claim(h: SimHost, f: Flavor, sign: 1 | -1): void {
    h.vcpusUsed += sign * f.vcpus;
    h.memoryMbUsed += sign * f.ram;
    h.diskGbUsed += sign * f.disk;
  }

  fits(h: SimHost, f: Flavor): boolean {
    const s = this.settings;
    const vcpuFree = h.vcpus * s.cpuAllocationRatio - h.vcpusUsed;
    // As Placement (which Nova's scheduler asks) computes it: (total - reserved) x ratio - used.
    const ramFree = (h.memoryMb - s.reservedHostMemoryMb) * s.ramAllocationRatio - h.memoryMbUsed;
    return vcpuFree >= f.vcpus && ramFree >= f.ram;
  }

  hostAz(h: SimHost): string {
    for (const a of this.aggregates) if (a.availabilityZone && a.hosts.includes(h.name)) return a.availabilityZone;
    return this.settings.defaultAz;
  }

  /** The server group a server is a member of (Nova allows one), or undefined. */
  groupOf(serverId: string): SimServerGroup | undefined {
    return this.serverGroups.find((g) => g.members.includes(serverId));
  }

  /**
   * Nova's ServerGroupAffinityFilter and ServerGroupAntiAffinityFilter for `server` on `h`: the other members'
   * hosts (a member being moved counts where it is now, or where its move claimed room). Affinity: every other
   * member with a host is on `h`; anti-affinity: fewer than max_server_per_host (default 1) of them are. The soft
   * policies are weighers, never filters.
   */
  groupAllows(server: SimServer, h: SimHost): boolean {
    const g = this.groupOf(server.id);
    if (!g || (g.policy !== 'affinity' && g.policy !== 'anti-affinity')) return true;
    const hosts: string[] = [];
    for (const id of g.members) {
      if (id === server.id) continue;
      const m = this.servers.get(id);
      if (!m) continue;
      const claimed = this.activeOps(id).find((o) => o.claimedOn)?.claimedOn?.name;
      const where = claimed ?? m.host;
      if (where) hosts.push(where);
    }
    if (g.policy === 'affinity') return hosts.every((x) => x === h.name);
    return hosts.filter((x) => x === h.name).length < (g.maxServerPerHost ?? 1);
  }

  /** Soft (anti-)affinity as Nova's weighers count it: other members on `h` (more is better for soft-affinity). */
  private groupWeight(server: SimServer, h: SimHost): number {
    const g = this.groupOf(server.id);
    if (!g || (g.policy !== 'soft-affinity' && g.policy !== 'soft-anti-affinity')) return 0;
    const on = g.members.filter((id) => id !== server.id && this.servers.get(id)?.host === h.name).length;
    return (g.policy === 'soft-affinity' ? on : -on) * 1e9;
  }

  /** Filter scheduler: enabled, up, not the source, same AZ, enough vCPU and RAM, the server group's policy; weighed by free RAM (and soft group policies first). */
  private scheduleHost(server: SimServer, exclude: string, requested: string | null, at: number): SimHost | null {
    const candidates = requested ? [this.hosts.get(requested)].filter((h): h is SimHost => !!h) : this.hostList;
    let best: SimHost | null = null;
    let bestFree = -Infinity;
    for (const h of candidates) {
      if (h.name === exclude || h.disabled || h.traitDisabled || !this.serviceUp(h, at)) continue;
      if (server.az && this.hostAz(h) !== server.az) continue;
      if (!this.fits(h, server.flavor)) continue;
      if (!this.groupAllows(server, h)) continue;
      const free = this.groupWeight(server, h) + h.memoryMb - h.memoryMbUsed + this.rng.next();
      if (free > bestFree) {
        best = h;
        bestFree = free;
      }
    }
    return best;
  }

  private newAction(server: SimServer, action: string, actor: Actor, at: number): InstanceAction {
    const a: InstanceAction = {
      action, requestId: `req-${this.rng.uuid()}`, userId: actor.userId, projectId: actor.projectId,
      startTime: at, updatedAt: at, message: null, events: [],
    };
    server.actions.push(a);
    return a;
  }

  private endAction(a: InstanceAction, at: number, result: 'Success' | 'Error', event: string, host: string | null = null): void {
    a.events.push({ event, startTime: a.startTime, finishTime: at, result, host });
    a.updatedAt = at;
    if (result === 'Error') a.message = 'Error';
  }

  private newMigration(server: SimServer, type: SimMigration['migrationType'], source: string, actor: Actor, at: number): SimMigration {
    const m: SimMigration = {
      id: this.nextMigrationId++, uuid: this.rng.uuid(), instanceUuid: server.id, migrationType: type,
      sourceCompute: source, sourceNode: source, destCompute: null, destNode: null, destHost: null,
      status: type === 'evacuation' ? 'accepted' : 'queued', createdAt: at, updatedAt: at,
      userId: actor.userId, projectId: actor.projectId, flavorId: server.flavor.id,
    };
    this.migrations.push(m);
    let list = this.migrationsByInstance.get(server.id);
    if (!list) this.migrationsByInstance.set(server.id, (list = []));
    list.push(m);
    return m;
  }

  private activeOps(serverId: string): MoveOp[] {
    return (this.ops.get(serverId) ?? []).filter((o) => !o.finished);
  }

  private finishOp(op: MoveOp): void {
    op.finished = true;
    const list = this.ops.get(op.server.id);
    if (list && list.every((o) => o.finished)) this.ops.delete(op.server.id);
  }

  private releaseClaim(op: MoveOp): void {
    if (op.claimedOn) {
      this.claim(op.claimedOn, op.server.flavor, -1);
      op.claimedOn = null;
    }
  }

  /** The server now runs on `target` (its claim there, made when it was scheduled, becomes its usage). */
  moveServer(server: SimServer, target: SimHost): void {
    const from = server.host;
    if (from) {
      const src = this.hosts.get(from);
      if (src) {
        src.servers.delete(server.id);
        this.claim(src, server.flavor, -1);
      }
    }
    server.host = target.name;
    target.servers.add(server.id);
    // the claim made at scheduling time becomes the server's own usage on the target
  }

  /**
   * POST /servers/{id}/action {"evacuate": ...} after the API's schema checks. Throws Nova's errors; on
   * success the rebuild runs in the background and the API answers 200 with an empty body.
   */
  evacuate(server: SimServer, opts: { host: string | null; force: boolean }, actor: Actor): void {
    const at = this.now();
    if (opts.host !== null && !this.hosts.has(opts.host)) throw novaError(404, `Compute host ${opts.host} not found.`);
    if (opts.host !== null && server.host === opts.host) throw novaError(400, "The target host can't be the same one.");
    if (server.launchedAt === null || server.host === null) {
      throw novaError(409, `Instance ${server.id} is in an invalid state for 'evacuate'`);
    }
    // Nova's check_instance_state: vm_state active, stopped or error. From Zed (26.0.0) any task state is
    // accepted (measured on the lab: a server mid-hard-reboot, mid-snapshot or mid-migrate evacuates); older
    // releases answered 409 for a task.
    if (!['active', 'stopped', 'error'].includes(server.vmState)) throw invalidState('evacuate', server, 'vm_state', server.vmState);
    const source = this.hosts.get(server.host);
    if (!source) throw novaError(404, `Compute host ${server.host} not found.`);
    if (this.serviceUp(source, at)) throw novaError(400, `Compute service of ${source.name} is still in use.`);

    const running = this.activeOps(server.id).filter((o) => o.kind === 'evacuation');
    const migration = this.newMigration(server, 'evacuation', source.name, actor, at);
    if (opts.host !== null) migration.destCompute = opts.host; // Nova records a requested host at once
    const action = this.newAction(server, 'evacuate', actor, at);
    const op: MoveOp = {
      kind: 'evacuation', server, migration, action, source: source.name, requestedHost: opts.host, forced: opts.force,
      claimedOn: null, race: null, finished: false,
    };
    if (running.length > 0) {
      const race = running.find((o) => o.race)?.race ?? { winnerDone: false };
      for (const other of running) other.race = race;
      op.race = race;
    }
    let list = this.ops.get(server.id);
    if (!list) this.ops.set(server.id, (list = []));
    list.push(op);

    server.taskState = 'rebuilding';
    server.updatedAt = at;
    this.emit('server', server, server.host);

    const d = this.settings.evacuateMs;
    const lag = Math.min(300, d * 0.06);
    this.schedule(at + d * 0.1, (t) => this.evacuateSchedule(op, t));
    this.schedule(at + d * 0.3, (t) => this.evacuatePhase(op, 'rebuild_block_device_mapping', t));
    this.schedule(at + d * 0.6, (t) => this.evacuatePhase(op, 'rebuild_spawning', t));
    this.schedule(at + d - lag, (t) => this.evacuateSpawned(op, t));
    this.schedule(at + d, (t) => this.evacuateDone(op, t));
  }

  private evacuateSchedule(op: MoveOp, at: number): void {
    if (op.finished) return;
    const server = op.server;
    let target: SimHost | null;
    if (op.forced && op.requestedHost) target = this.hosts.get(op.requestedHost) ?? null;
    else target = this.scheduleHost(server, op.source, op.requestedHost, at);
    if (!target) {
      // conductor: NoValidHost → vm_state error, task_state none, migration error; the server stays put
      this.finishOp(op);
      op.migration.status = 'error';
      op.migration.updatedAt = at;
      if (!op.race || this.activeOps(server.id).length === 0) {
        server.vmState = 'error';
        server.taskState = op.race ? 'rebuilding' : null;
      }
      server.fault = {
        code: 500, created: at,
        message: 'No valid host was found. There are not enough hosts available.',
      };
      server.updatedAt = at;
      this.endAction(op.action, at, 'Error', 'conductor_rebuild_server');
      this.emit('server', server, server.host);
      return;
    }
    this.claim(target, server.flavor, 1);
    op.claimedOn = target;
    op.migration.destCompute = target.name;
    op.migration.destNode = target.name;
    op.migration.destHost = target.mgmtIp;
    op.migration.updatedAt = at;
  }

  private evacuatePhase(op: MoveOp, taskState: string, at: number): void {
    if (op.finished || !op.claimedOn) return;
    op.server.taskState = taskState;
    op.server.updatedAt = at;
  }

  /** The guest is spawned: the task state clears a moment before the host field moves (Nova's own order). */
  private evacuateSpawned(op: MoveOp, at: number): void {
    if (op.finished || !op.claimedOn || op.race) return;
    if (!this.computeAnswers(op.claimedOn)) return;
    const s = op.server;
    s.taskState = null;
    if (s.vmState !== 'stopped') {
      s.vmState = 'active';
      s.powerState = 1;
    }
    s.fault = null;
    s.updatedAt = at;
    this.emit('server', s, s.host);
  }

  private evacuateDone(op: MoveOp, at: number): void {
    if (op.finished || !op.claimedOn) return;
    const target = op.claimedOn;
    if (!this.computeAnswers(target)) return; // the rebuild cast is lost; the target's restart fails it
    const s = op.server;
    this.finishOp(op);
    if (op.race?.winnerDone) {
      // the losing rebuild of a duplicate evacuation: the server is left stuck in REBUILD with vm_state error
      this.releaseClaim(op);
      op.migration.status = 'failed';
      op.migration.updatedAt = at;
      s.vmState = 'error';
      s.taskState = 'rebuilding';
      s.updatedAt = at;
      this.endAction(op.action, at, 'Error', 'compute_rebuild_instance', target.name);
      this.emit('server', s, s.host);
      return;
    }
    if (op.race) op.race.winnerDone = true;
    const from = s.host;
    op.claimedOn = null;
    this.moveServer(s, target);
    if (!op.race) {
      s.taskState = null;
      if (s.vmState !== 'stopped') {
        s.vmState = 'active';
        s.powerState = 1;
      }
      s.fault = null;
    }
    s.az = this.hostAz(target);
    s.updatedAt = at;
    op.migration.status = 'done';
    op.migration.updatedAt = at;
    this.endAction(op.action, at, 'Success', 'compute_rebuild_instance', target.name);
    this.emit('server', s, from);
  }

  /** os-resetState (admin): vm_state as asked, task_state cleared, whatever the host's state. */
  resetState(server: SimServer, state: 'active' | 'error'): void {
    server.vmState = state;
    server.taskState = null;
    server.updatedAt = this.now();
    this.emit('server', server, server.host);
  }

  /** lock (2.73: with a reason). Locking a locked server changes nothing (the first reason stays). */
  lock(server: SimServer, reason: string | null): void {
    if (server.lock) return;
    server.lock = { reason };
    server.updatedAt = this.now();
  }

  unlock(server: SimServer): void {
    server.lock = null;
    server.updatedAt = this.now();
  }

  /**
   * os-stop, os-start, pause, unpause, suspend, resume, rescue, unrescue, shelve: the API checks the state and
   * casts to the server's compute; a compute that answers does it at once here, one that does not leaves the
   * task state (a dead host's servers keep it: measured on the lab). `shelve` offloads at once
   * (shelved_offload_time 0, Nova's default).
   */
  powerAction(server: SimServer, action: string): void {
    const at = this.now();
    const rule = POWER_ACTIONS[action];
    if (!rule) throw novaError(400, `There is no such action: ${action}`);
    if (!rule.from.includes(server.vmState)) throw invalidState(action, server, 'vm_state', server.vmState);
    if (server.taskState !== null) throw invalidState(action, server, 'task_state', server.taskState);
    const host = server.host ? this.hosts.get(server.host) : undefined;
    if (!host) throw invalidState(action, server, 'vm_state', server.vmState);
    if (!this.computeAnswers(host)) {
      server.taskState = rule.task;
      server.updatedAt = at;
      this.emit('server', server, server.host);
      return;
    }
    server.vmState = rule.to;
    server.powerState = powerStateOf(rule.to);
    if (rule.to === 'shelved_offloaded') {
      this.moveOff(server);
    }
    server.updatedAt = at;
    this.emit('server', server, host.name);
  }

  /** A shelved server offloaded: its resources and its host go. */
  private moveOff(server: SimServer): void {
    const h = server.host ? this.hosts.get(server.host) : undefined;
    if (h) this.claim(h, server.flavor, -1);
    server.host = null;
    server.powerState = 0;
  }

  /** Fault injection: the guest stops answering on its network (its addresses go silent) until a reboot. */
  setGuestSilent(server: SimServer, silent: boolean): void {
    if ((server.guestSilent ?? false) === silent) return;
    server.guestSilent = silent;
    this.emit('server', server, server.host);
  }

  /**
   * POST reboot: refused (409) while a task runs or the server is not active or on no live compute; a
   * reboot brings a silent guest's network back. The reboot itself is instant here.
   */
  reboot(server: SimServer, type: 'HARD' | 'SOFT', actor: Actor): void {
    const at = this.now();
    const host = server.host ? this.hosts.get(server.host) : undefined;
    if (server.taskState !== null || (server.vmState !== 'active' && !(type === 'HARD' && server.vmState === 'error'))) {
      const [attr, state] = server.taskState !== null ? ['task_state', server.taskState] : ['vm_state', server.vmState];
      throw novaError(409, `Cannot 'reboot' instance ${server.id} while it is in ${attr} ${state}`);
    }
    if (!host || !this.serviceUp(host, at)) throw novaError(409, `Compute service of ${host?.name ?? 'the server'} is unavailable at this time.`);
    const a = this.newAction(server, 'reboot', actor, at);
    if (!this.computeAnswers(host)) {
      // The API casts to a compute that will never take it: the task state stays (measured on the lab).
      server.taskState = type === 'HARD' ? 'rebooting_hard' : 'rebooting';
      server.updatedAt = at;
      this.emit('server', server, server.host);
      return;
    }
    this.endAction(a, at, 'Success', type === 'HARD' ? 'compute_reboot_instance' : 'compute_reboot_instance', host.name);
    server.guestSilent = false;
    server.vmState = 'active';
    server.powerState = 1;
    server.updatedAt = at;
    this.emit('server', server, server.host);
  }

  /** POST os-migrateLive after schema checks. `sync` (before 2.34) raises pre-check failures as 400. */
  liveMigrate(server: SimServer, opts: { host: string | null; force: boolean; sync: boolean }, actor: Actor): void {
    const at = this.now();
    if (server.vmState !== 'active' || server.taskState !== null) {
      const [attr, state] = server.taskState !== null ? ['task_state', server.taskState] : ['vm_state', server.vmState];
      throw novaError(409, `Cannot 'os-migrateLive' instance ${server.id} while it is in ${attr} ${state}`);
    }
    if (opts.host !== null && !this.hosts.has(opts.host)) throw novaError(400, `Compute host ${opts.host} could not be found.`);
    const source = server.host ? this.hosts.get(server.host) : undefined;
    if (!source) throw novaError(409, `Instance ${server.id} is in an invalid state for 'os-migrateLive'`);
    const precheck = (): string | null => {
      if (!this.serviceUp(source, at) || !this.computeAnswers(source)) return `Compute service of ${source.name} is unavailable at this time.`;
      if (opts.host === source.name) return `Unable to migrate instance (${server.id}) to current host (${source.name}).`;
      return null;
    };
    const problem = precheck();
    if (problem && opts.sync) throw novaError(400, problem);

    const migration = this.newMigration(server, 'live-migration', source.name, actor, at);
    const action = this.newAction(server, 'live-migration', actor, at);
    const op: MoveOp = {
      kind: 'live-migration', server, migration, action, source: source.name, requestedHost: opts.host, forced: opts.force,
      claimedOn: null, race: null, finished: false,
    };
    let list = this.ops.get(server.id);
    if (!list) this.ops.set(server.id, (list = []));
    list.push(op);
    server.taskState = 'migrating';
    server.updatedAt = at;
    const d = this.settings.liveMigrateMs;
    const fail = (t: number, why: string) => {
      this.finishOp(op);
      this.releaseClaim(op);
      migration.status = 'error';
      migration.updatedAt = t;
      server.taskState = null;
      server.updatedAt = t;
      action.message = why;
      this.endAction(action, t, 'Error', 'conductor_live_migrate_instance');
    };
    this.schedule(at + d * 0.1, (t) => {
      if (problem) return fail(t, problem);
      let target: SimHost | null;
      if (opts.force && opts.host) target = this.hosts.get(opts.host) ?? null;
      else target = this.scheduleHost(server, source.name, opts.host, t);
      if (!target) return fail(t, 'No valid host was found.');
      this.claim(target, server.flavor, 1);
      op.claimedOn = target;
      migration.destCompute = target.name;
      migration.destNode = target.name;
      migration.destHost = target.mgmtIp;
      migration.status = 'preparing';
      migration.updatedAt = t;
    });
    this.schedule(at + d * 0.3, (t) => {
      if (op.finished || !op.claimedOn) return;
      migration.status = 'running';
      migration.updatedAt = t;
    });
    this.schedule(at + d, (t) => {
      if (op.finished || !op.claimedOn) return;
      const target = op.claimedOn;
      if (!this.computeAnswers(target) || !this.computeAnswers(source)) return fail(t, 'Live migration failed.');
      this.finishOp(op);
      op.claimedOn = null;
      const from = server.host;
      this.moveServer(server, target);
      server.taskState = null;
      server.updatedAt = t;
      migration.status = 'completed';
      migration.updatedAt = t;
      this.endAction(action, t, 'Success', 'compute_live_migration', target.name);
      this.emit('server', server, from);
    });
  }

  // ---------------------------------------------------------------- probes (what fping would see)

  /** Whether an address answers right now. */
  addressAnswers(addr: string): boolean {
    const owner = this.addressIndex.get(addr);
    if (!owner) return false;
    if (owner.kind === 'mgmt' || owner.kind === 'storage') {
      const h = owner.host;
      return h.power === 'on' && !h.hung && !h.pingBlocked && (owner.kind === 'mgmt' ? h.mgmtLink : h.storageLink) === 'up';
    }
    if (!REACHABLE_NETWORKS.has(owner.network)) return false;
    const s = owner.server;
    if (!s.host || s.vmState !== 'active' || s.powerState !== 1 || s.guestSilent) return false;
    const h = this.hosts.get(s.host);
    return !!h && h.power === 'on' && !h.hung && !h.pingBlocked && h.instanceLink === 'up' && !h.portBindingFails;
  }

  /** The provider addresses that should answer on a host, as the netns layer must lay them out. */
  liveAddressesOn(h: SimHost): string[] {
    const out: string[] = [];
    if (h.power !== 'on' || h.hung || h.pingBlocked) return out;
    if (h.mgmtLink === 'up') out.push(h.mgmtIp);
    if (h.storageLink === 'up') out.push(h.storageIp);
    if (h.instanceLink === 'up' && !h.portBindingFails) {
      for (const id of h.servers) {
        const s = this.servers.get(id);
        if (!s || s.vmState !== 'active' || s.powerState !== 1 || s.guestSilent) continue;
        for (const a of s.addresses) if (REACHABLE_NETWORKS.has(a.network)) out.push(a.addr);
      }
    }
    return out;
  }
}
