import { randomUUID } from 'node:crypto';
import { keystoneTime } from './clock.js';
import { SimHttpError } from './http-error.js';
import type { SimRequest, SimResponse } from './http-types.js';
import type { Keystone } from './keystone.js';
import type { SimHost, SimServer } from './types.js';
import type { World } from './world.js';

// A Cloudpods region's compute_v2 API over the simulator's world: the same hosts, power, host agents (the world's
// nova-compute process stands for the `host` container of the default-host DaemonSet), addresses and guests, seen
// through the handlers of yunionio/cloudpods. Each handler names the source it follows; every call cmpha makes has
// a contract test (test/integration/sim/cloudpods-contract.test.ts).
//
// Heartbeat: the agent pings every report interval (hostman PingRegionInterval, 60 s by default); a ping saves
// last_ping_at (not listed by the API) and so moves updated_at (PerformPing, pkg/compute/models/hosts.go). The
// region's PingDetectionTask sets a host offline once its last ping is older than HostOfflineMaxSeconds (180 s by
// default; here the world's service_down_time) and marks its guests unknown (MarkGuestUnknown). A ping from an
// offline host brings it online again (PerformPing → PerformOnline).

export const CLOUDPODS_PREFIX = '/cloudpods';

type Json = Record<string, unknown>;

/** What the region keeps per host beyond the world's: its offline flag and its metadata. */
interface RegionHostState {
  /** When it went offline (by `POST /offline` or ping detection); null while online. */
  offline: { at: number; byPing: boolean } | null;
  metadata: Record<string, string>;
  /** Last write to the host row that is no ping (offline, online): moves updated_at. */
  changedAt: number | null;
}

/** A GuestMigrateTask running on a guest (pkg/compute/tasks/guest/guest_live_migrate_task.go). */
interface MigrateTask {
  readonly source: string;
  readonly preferHost: string | null;
  /** The guest's status when the migrate was asked (task param guest_status). */
  readonly guestStatus: string;
  /** is_rescue_mode: the guest is started on the target whatever its status was (OnNormalMigrateComplete). */
  readonly rescue: boolean;
  /** auto_start: a normal migrate starts the guest once the old host is undeployed (OnUndeployOldHostSucc). */
  readonly autoStart: boolean;
  target: SimHost | null;
  done: boolean;
}

/** Cloudpods' error body: {"code", "class", "details"} (httputils.JSONClientError). */
export function regionError(status: number, klass: string, details: string): SimHttpError {
  return new SimHttpError(status, { code: status, class: klass, details });
}

const regionTime = (ms: number): string => keystoneTime(ms);

export class CloudpodsRegion {
  private readonly hostState = new Map<string, RegionHostState>();
  /** Statuses the region sets on guests that the world does not model (unknown, start_migrate, migrating, starting, migrate_failed). */
  private readonly guestStatus = new Map<string, string>();
  private readonly tasks = new Map<string, MigrateTask[]>();
  /** Guests whose disks are on local storage (rescue-mode migration refuses them). */
  readonly localDisks = new Set<string>();
  /** Each guest's system disk id (a disk is its own resource in the region, with its own UUID). */
  private readonly diskIds = new Map<string, string>();

  constructor(private readonly world: World, private readonly keystone: Keystone) {
    for (const h of world.hostList) {
      // Spares are kept back by cmpha's own mark, as the operator would have set them: disabled with the reason.
      const metadata: Record<string, string> = h.disabled && h.disabledReason ? { cmpha_reason: h.disabledReason } : {};
      this.hostState.set(h.name, { offline: null, metadata, changedAt: null });
    }
  }

  async handle(req: SimRequest): Promise<SimResponse | null> {
    const p = req.path.slice(CLOUDPODS_PREFIX.length).replace(/\/+$/, '');
    const auth = this.keystone.authenticate(req);
    this.world.advance();
    const seg = p.split('/').filter(Boolean).map(decodeURIComponent);
    const body = this.unwrap(req.body, seg[0] === 'hosts' ? 'host' : 'server');
    if (req.method === 'GET' && seg.length === 1 && seg[0] === 'hosts') return this.listHosts(req.url.searchParams);
    if (req.method === 'GET' && seg.length === 1 && seg[0] === 'servers') return this.listServers(req.url.searchParams, auth.projectId);
    if (req.method === 'GET' && seg.length === 2 && seg[0] === 'servers') return { status: 200, body: { server: this.guestView(this.guestById(seg[1]!)) } };
    if (req.method === 'GET' && seg.length === 2 && seg[0] === 'hosts') return { status: 200, body: { host: this.hostView(this.hostByIdOrName(seg[1]!)) } };
    if (req.method === 'POST' && seg.length === 3 && seg[0] === 'hosts') return this.hostAction(this.hostByIdOrName(seg[1]!), seg[2]!, body);
    if (req.method === 'POST' && seg.length === 3 && seg[0] === 'servers') return this.serverAction(this.guestById(seg[1]!), seg[2]!, body);
    throw regionError(404, 'NotFoundError', `Handler not found`);
  }

  /** performActionHandler (pkg/appsrv/dispatcher/dispatcher.go): the body under the singular keyword, or the body itself. */
  private unwrap(body: unknown, keyword: string): Json {
    if (body === undefined || body === null) return {};
    if (typeof body !== 'object' || Array.isArray(body)) throw regionError(400, 'InputParameterError', 'invalid body');
    const b = body as Json;
    const inner = b[keyword];
    return inner !== undefined && typeof inner === 'object' && inner !== null ? inner as Json : b;
  }

  // ------------------------------------------------------------------ hosts

  private state(h: SimHost): RegionHostState {
    return this.hostState.get(h.name)!;
  }

  /** Brings the region's view of a host up to now: a ping after offline brings it online; a stale ping sets it offline. */
  private refresh(h: SimHost, now = this.world.now()): RegionHostState {
    const st = this.state(h);
    const ping = this.world.lastHeartbeat(h, now);
    if (st.offline && ping !== null && ping > st.offline.at) {
      // PerformPing on an offline host → PerformOnline; StartUploadAllGuestsStatusTask syncs the guests' status.
      st.offline = null;
      st.changedAt = ping;
      for (const id of h.servers) if (this.guestStatus.get(id) === 'unknown') this.guestStatus.delete(id);
    }
    const max = this.world.settings.serviceDownTimeMs;
    const last = ping ?? h.createdAt;
    if (!st.offline && now - last > max) {
      // PingDetectionTask: PerformOffline, then MarkGuestUnknown.
      st.offline = { at: last + max, byPing: true };
      st.changedAt = last + max;
      for (const id of h.servers) if (!this.tasks.get(id)?.some((t) => !t.done)) this.guestStatus.set(id, 'unknown');
    }
    return st;
  }

  hostStatus(h: SimHost): 'online' | 'offline' {
    return this.refresh(h).offline ? 'offline' : 'online';
  }

  private hostByIdOrName(idOrName: string): SimHost {
    const h = this.world.hostList.find((x) => x.serviceUuid === idOrName || x.name === idOrName);
    if (!h) throw regionError(404, 'ResourceNotFoundError', `host ${idOrName} not found`);
    return h;
  }

  private hostView(h: SimHost): Json {
    const st = this.refresh(h);
    const w = this.world;
    const ping = w.lastHeartbeat(h);
    const updated = Math.max(ping ?? h.createdAt, st.changedAt ?? 0, h.lastUpdateAt ?? 0);
    const guests = [...h.servers].map((id) => w.servers.get(id)!).filter(Boolean);
    return {
      id: h.serviceUuid, name: h.name, host_type: 'hypervisor', host_status: st.offline ? 'offline' : 'online',
      // PerformOffline sets status unknown; PerformOnline sets it running.
      status: st.offline ? 'unknown' : 'running', enabled: !h.disabled,
      updated_at: regionTime(w.clock.nova(updated)), created_at: regionTime(h.createdAt),
      access_ip: h.mgmtIp, manager_uri: `https://${h.mgmtIp}:8885`, zone: 'zone0', zone_id: 'zone0',
      metadata: { ...st.metadata }, auto_migrate_on_host_down: st.metadata.__auto_migrate_on_host_down === 'enable',
      cpu_count: h.vcpus, mem_size: h.memoryMb, mem_reserved: w.settings.reservedHostMemoryMb,
      cpu_commit: guests.reduce((n, s) => n + s.flavor.vcpus, 0), mem_commit: guests.reduce((n, s) => n + s.flavor.ram, 0),
      cpu_commit_bound: w.settings.cpuAllocationRatio, mem_commit_bound: w.settings.ramAllocationRatio,
      ipmi_info: { ip_addr: h.mgmtIp, present: true },
    };
  }

  /** GET /hosts (listHandler, db_dispatcher.go ListItems: limit/offset, total; default limit 2048). */
  private listHosts(q: URLSearchParams): SimResponse {
    let hosts = this.world.hostList.slice();
    const names = q.getAll('name');
    if (names.length > 0) hosts = hosts.filter((h) => names.includes(h.name));
    const type = q.get('host_type');
    if (type && type !== 'hypervisor') hosts = [];
    return { status: 200, body: this.page('hosts', hosts.map((h) => this.hostView(h)), q) };
  }

  private page(plural: string, rows: Json[], q: URLSearchParams): Json {
    const limit = Number(q.get('limit') ?? '2048') || 2048;
    const offset = Number(q.get('offset') ?? '0') || 0;
    return { [plural]: rows.slice(offset, offset + limit), total: rows.length, limit, offset };
  }

  private hostAction(h: SimHost, action: string, body: Json): SimResponse {
    const st = this.refresh(h);
    const now = this.world.now();
    switch (action) {
      case 'offline':
        // PerformOffline: a no-op when already offline; the reason goes to the operation log only. Guests keep their status.
        if (!st.offline) {
          st.offline = { at: now, byPing: false };
          st.changedAt = now;
        }
        return { status: 200 };
      case 'online':
        // PerformOnline: last_ping_at = now, host_status online (even with no agent: the operator's word).
        if (st.offline) {
          st.offline = null;
          st.changedAt = now;
        }
        return { status: 200 };
      case 'enable':
      case 'disable':
        // PerformEnable/PerformDisable (hosts.go): only when the state changes.
        if (h.disabled !== (action === 'disable')) this.world.updateService(h, { status: action === 'disable' ? 'disabled' : 'enabled', disabledReason: null });
        return { status: 200 };
      case 'metadata':
        // PerformMetadata (pkg/cloudcommon/db/standalone_anon.go); "none"/"null" delete a key (metadata.go rawSetValues).
        for (const [k, v] of Object.entries(body)) {
          const value = typeof v === 'string' ? v : JSON.stringify(v);
          if (['none', 'null'].includes(value.toLowerCase())) delete st.metadata[k];
          else st.metadata[k] = value;
        }
        return { status: 200 };
      case 'auto-migrate-on-host-down': {
        // PerformAutoMigrateOnHostDown: asks the host agent first (shutdown-servers-on-host-down), then sets the metadata.
        if (!this.world.computeAnswers(h)) throw regionError(502, 'BadGatewayError', `host agent of ${h.name} does not answer`);
        const down = body.auto_migrate_on_host_down;
        const shutdown = body.auto_migrate_on_host_shutdown;
        if (shutdown === 'enable' && down !== 'enable') throw regionError(400, 'BadRequestError', 'must enable auto_migrate_on_host_down at same time');
        if (down === 'enable' || down === 'disable') st.metadata.__auto_migrate_on_host_down = down;
        if (shutdown === 'enable' || shutdown === 'disable') st.metadata.__auto_migrate_on_host_shutdown = shutdown;
        return { status: 200 };
      }
      case 'restart-host-agent':
        // PerformRestartHostAgent forwards to the agent's own HTTP server (hh.Request to ManagerUri), which exits
        // three seconds later (hostman hosthandler hostRestart) for its DaemonSet to start it again. A dead
        // agent cannot be asked.
        if (!this.world.computeAnswers(h)) throw regionError(502, 'BadGatewayError', `host agent of ${h.name} at https://${h.mgmtIp}:8885 does not answer`);
        this.world.stopNovaCompute(h, now);
        this.world.schedule(now + 3000, (t) => this.world.startNovaCompute(h, t));
        return { status: 200 };
      default:
        throw regionError(404, 'NotFoundError', `Handler not found: host action ${action}`);
    }
  }

  // ------------------------------------------------------------------ guests

  private guestById(id: string): SimServer {
    const s = this.world.servers.get(id) ?? this.world.serverList.find((x) => x.name === id);
    if (!s || s.vmState === 'deleted') throw regionError(404, 'ResourceNotFoundError', `server ${id} not found`);
    return s;
  }

  /** The guest's Cloudpods status: what the region set on it, else its power state in the region's words. */
  guestStatusOf(s: SimServer): string {
    const host = s.host ? this.world.host(s.host) : undefined;
    if (host) this.refresh(host);
    const set = this.guestStatus.get(s.id);
    if (set) return set;
    if (s.taskState === 'migrating') return 'live_migrating';
    switch (s.vmState) {
      case 'active': return 'running';
      case 'stopped': return 'ready';
      case 'building': return 'deploying';
      default: return 'unknown';
    }
  }

  private diskId(s: SimServer): string {
    let id = this.diskIds.get(s.id);
    if (!id) this.diskIds.set(s.id, (id = randomUUID()));
    return id;
  }

  private guestView(s: SimServer): Json {
    const host = s.host ? this.world.host(s.host) : undefined;
    return {
      id: s.id, name: s.name, status: this.guestStatusOf(s), hypervisor: 'kvm',
      host_id: host?.serviceUuid ?? null, host: host?.name ?? null, tenant_id: s.projectId,
      vcpu_count: s.flavor.vcpus, vmem_size: s.flavor.ram, created_at: regionTime(s.createdAt),
      updated_at: regionTime(this.world.clock.nova(s.updatedAt)), metadata: { ...s.metadata },
      ips: s.addresses.filter((a) => a.type === 'fixed').map((a) => a.addr).join(','),
      nics: s.addresses.filter((a) => a.type === 'fixed').map((a) => ({ ip_addr: a.addr, mac: a.mac, network_id: a.network, guest_id: s.id })),
      // GuestDiskInfo (pkg/apis/compute/guests.go): each disk has its own id, which names its RBD image (storage_rbd.go getDiskPath).
      disks_info: [{ id: this.diskId(s), storage_type: this.localDisks.has(s.id) ? 'local' : 'rbd', disk_type: 'sys', size: s.flavor.disk * 1024 }],
    };
  }

  /** GET /servers: `host` filters by host id or name (HostResourceInput); without scope=system only the token's project. */
  private listServers(q: URLSearchParams, projectId: string): SimResponse {
    let servers = this.world.serverList.filter((s) => s.vmState !== 'deleted');
    const hostFilter = q.get('host') ?? q.get('host_id');
    if (hostFilter !== null) {
      const h = this.hostByIdOrName(hostFilter);
      servers = servers.filter((s) => s.host === h.name);
    }
    const system = q.get('scope') === 'system' || q.get('admin') === 'true';
    if (!system) servers = servers.filter((s) => s.projectId === projectId);
    return { status: 200, body: this.page('servers', servers.map((s) => this.guestView(s)), q) };
  }

  private serverAction(s: SimServer, action: string, body: Json): SimResponse {
    switch (action) {
      case 'migrate': return this.migrate(s, body);
      case 'restart': return this.restart(s);
      case 'stop': return this.stop(s, body);
      case 'live-migrate': return this.liveMigrate(s, body);
      default: throw regionError(404, 'NotFoundError', `Handler not found: server action ${action}`);
    }
  }

  /**
   * PerformMigrate (guest_actions.go): validateMigrate, then SKVMGuestDriver.CheckMigrate (guestdrivers/kvm.go),
   * then StartMigrateTask, which sets start_migrate before the call answers. No guest status is checked in
   * rescue mode: a second migrate while one runs is accepted.
   */
  private migrate(s: SimServer, body: Json): SimResponse {
    const rescue = body.rescue_mode === true;
    const current = this.guestStatusOf(s);
    if (!rescue && current !== 'ready') {
      throw regionError(400, 'ServerStatusError', `Cannot normal migrate guest in status ${current}, try rescue mode or server-live-migrate?`);
    }
    const source = s.host ? this.world.host(s.host) : undefined;
    if (!source) throw regionError(400, 'InvalidStatusError', `guest ${s.name} has no host`);
    if (rescue) {
      if (this.hostStatus(source) !== 'offline') throw regionError(400, 'BadRequestError', `Host status online, can't do rescue mode migration`);
      if (this.localDisks.has(s.id)) throw regionError(400, 'BadRequestError', 'Rescue mode requires all disk store in shared storages');
    }
    const prefer = typeof body.prefer_host_id === 'string' && body.prefer_host_id !== '' ? body.prefer_host_id
      : typeof body.prefer_host === 'string' && body.prefer_host !== '' ? body.prefer_host : null;
    const preferHost = prefer === null ? null : this.world.hostList.find((h) => h.serviceUuid === prefer || h.name === prefer);
    if (prefer !== null && !preferHost) throw regionError(400, 'BadRequestError', `Host ${prefer} not found`);
    const task: MigrateTask = {
      source: source.name, preferHost: preferHost?.name ?? null, guestStatus: current, rescue, autoStart: body.auto_start === true, target: null, done: false,
    };
    const running = this.tasks.get(s.id) ?? [];
    running.push(task);
    this.tasks.set(s.id, running);
    this.guestStatus.set(s.id, 'start_migrate');
    s.updatedAt = this.world.now();
    const at = this.world.now();
    const d = this.world.settings.evacuateMs;
    this.world.schedule(at + d * 0.1, (t) => this.schedule(s, task, t));
    this.world.schedule(at + d * 0.8, (t) => this.complete(s, task, t));
    this.world.schedule(at + d, (t) => this.started(s, task, t));
    return { status: 200 };
  }

  /** OnStartSchedule + SaveScheduleResult: the prefer host, or the scheduler's choice; either must be enabled, online and have room. */
  private schedule(s: SimServer, task: MigrateTask, at: number): void {
    if (task.done) return;
    if (task.guestStatus !== 'running' && task.guestStatus !== 'suspend') this.guestStatus.set(s.id, 'migrating');
    const candidates = (task.preferHost ? this.world.hostList.filter((h) => h.name === task.preferHost) : this.world.hostList)
      .filter((h) => h.name !== task.source && !h.disabled && this.world.fits(h, s.flavor) && this.hostStatus(h) === 'online');
    const target = candidates.sort((a, b) => (b.memoryMb - b.memoryMbUsed) - (a.memoryMb - a.memoryMbUsed))[0];
    if (!target) return this.fail(s, task, at, 'no candidate host: schedule failed');
    this.world.claim(target, s.flavor, 1);
    task.target = target;
  }

  /**
   * OnNormalMigrateComplete: the guest is set on the target (setGuest) with the status it had when asked
   * (guest_status). In rescue mode GuestStartTask runs next, whatever that status was: it sets starting
   * (RequestStart) and the target's agent starts the guest (hostman GuestStart → HandleGuestStart), so a guest
   * that was stopped (ready) comes back running. A normal migrate undeploys the old host and starts the guest
   * only with auto_start (OnUndeployOldHostSucc); without it the guest stays as it was.
   */
  private complete(s: SimServer, task: MigrateTask, at: number): void {
    if (task.done || !task.target) return;
    if (this.raced(s)) {
      for (const t of (this.tasks.get(s.id) ?? []).filter((x) => !x.done)) this.fail(s, t, at, 'two migrations of the guest ran at once');
      return;
    }
    if (!this.world.computeAnswers(task.target)) return this.fail(s, task, at, `host agent of ${task.target.name} does not answer`);
    const from = s.host;
    this.world.moveServer(s, task.target);
    if (task.rescue || task.autoStart) this.guestStatus.set(s.id, 'starting');
    else {
      // TaskComplete: the guest keeps guest_status (ready) on its new host.
      task.done = true;
      this.guestStatus.delete(s.id);
    }
    s.updatedAt = at;
    this.world.emit('server', s, from);
  }

  /** GuestStartTask.OnStartComplete: running on the target. */
  private started(s: SimServer, task: MigrateTask, at: number): void {
    if (task.done || !task.target || s.host !== task.target.name) return;
    task.done = true;
    this.guestStatus.delete(s.id);
    s.vmState = 'active';
    s.powerState = 1;
    s.updatedAt = at;
    this.world.emit('server', s, s.host);
  }

  /** TaskFailed → markFailed: migrate_failed; the guest stays where it is. */
  private fail(s: SimServer, task: MigrateTask, at: number, _why: string): void {
    if (task.target && s.host !== task.target.name) this.world.claim(task.target, s.flavor, -1);
    task.done = true;
    this.guestStatus.set(s.id, 'migrate_failed');
    s.updatedAt = at;
    this.world.emit('server', s, s.host);
  }

  /** The simulator's stand-in for two GuestMigrateTasks on one guest: whichever completes first fails it. */
  private raced(s: SimServer): boolean {
    return (this.tasks.get(s.id) ?? []).filter((t) => !t.done).length > 1;
  }

  /** Migrations the region accepted for a guest (for tests: a duplicate is what cmpha must never send). */
  migrationsOf(id: string): number {
    return this.tasks.get(id)?.length ?? 0;
  }

  /** PerformRestart with is_force: the guest's host agent restarts it (its network comes back). */
  private restart(s: SimServer): SimResponse {
    const host = s.host ? this.world.host(s.host) : undefined;
    if (!host || this.hostStatus(host) !== 'online' || !this.world.computeAnswers(host)) {
      throw regionError(400, 'InvalidStatusError', `Cannot do restart server in status ${this.guestStatusOf(s)}`);
    }
    this.world.setGuestSilent(s, false);
    s.updatedAt = this.world.now();
    this.world.emit('server', s, s.host);
    return { status: 200 };
  }

  /**
   * PerformStop (guest_actions.go): unless is_force, only a guest the driver can stop (SBaseGuestDriver.CanStop,
   * guestdrivers/base.go: running, stop_failed, ...); StartGuestStopTask sets start_stop before the call answers,
   * and GuestStopTask asks the host agent (hostman GuestStop), which leaves the guest ready. A guest whose host
   * agent does not answer ends stop_failed.
   */
  private stop(s: SimServer, body: Json): SimResponse {
    const current = this.guestStatusOf(s);
    if (body.is_force !== true && !['running', 'stop_failed'].includes(current)) {
      throw regionError(400, 'InvalidStatusError', `Cannot stop server: Cannot stop server in status ${current}`);
    }
    this.guestStatus.set(s.id, 'start_stop');
    s.updatedAt = this.world.now();
    this.world.schedule(this.world.now() + 200, (t) => {
      const host = s.host ? this.world.host(s.host) : undefined;
      if (!host || !this.world.computeAnswers(host)) {
        this.guestStatus.set(s.id, 'stop_failed');
      } else {
        this.guestStatus.delete(s.id);
        s.vmState = 'stopped';
        s.powerState = 4;
      }
      s.updatedAt = t;
      this.world.emit('server', s, s.host);
    });
    return { status: 200 };
  }

  /** PerformLiveMigrate: running guests only (validateMigrate); the world's live migration runs it. */
  private liveMigrate(s: SimServer, body: Json): SimResponse {
    const status = this.guestStatusOf(s);
    if (status !== 'running' && status !== 'suspend') throw regionError(400, 'BadRequestError', `Cannot live migrate in status ${status}`);
    const prefer = typeof body.prefer_host_id === 'string' && body.prefer_host_id !== '' ? body.prefer_host_id : null;
    const target = prefer === null ? null : this.world.hostList.find((h) => h.serviceUuid === prefer || h.name === prefer);
    if (prefer !== null && !target) throw regionError(400, 'BadRequestError', `Host ${prefer} not found`);
    this.world.liveMigrate(s, { host: target?.name ?? null, force: false, sync: false }, { userId: '', projectId: s.projectId });
    return { status: 200 };
  }
}
