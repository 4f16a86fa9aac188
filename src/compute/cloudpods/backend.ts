import { CLOUDPODS_MIGRATE_OUTCOME_UNKNOWN } from '../../openstack/errors.js';
import type { RegionApi, RegionHost } from '../../openstack/cloudpods.js';
import { CmphaError, errorMessage } from '../../shared/errors.js';
import { incidentReason, parseMarker, type MarkerPrefixes } from '../marker.js';
import {
  MOVE_OUTCOME_UNKNOWN, SOURCE_IN_USE,
  type Arrival, type CallOptions, type CloudFinding, type CloudNames, type ComputeBackend, type ComputeHost, type Guest, type GuestRecovery, type HostCapacity, type Restore, type LiveMoveState, type MoveState,
} from '../types.js';
import { guestOf, inspectMove, judgeArrival, judgeLiveMove } from './guests.js';

/** The host metadata key cmpha writes its mark under (user metadata: no `__` prefix, which is the region's own). */
export const MARK_KEY = 'cmpha_reason';
/** The region's own auto-migration switch (HOSTMETA_AUTO_MIGRATE_ON_HOST_DOWN, pkg/apis/compute/host_const.go). */
export const AUTO_MIGRATE_KEY = '__auto_migrate_on_host_down';

/** A Cloudpods operator's words: the host is what goes offline; its agent is the default-host pod's `host` container. */
export const CLOUDPODS_NAMES: CloudNames = {
  cloud: 'Cloudpods', agent: 'host agent', service: (host) => `host ${host}`, isolated: 'set offline', isolating: 'setting it offline',
};

/** What moving a stopped guest cannot give back: the region runs it for a while on its new host. */
const STARTED_BY_MIGRATE = 'the region starts a guest it migrates off a dead host; it ran on its new host until cmpha stopped it again';

/** The region's status for a state the recovery expects a guest in (pkg/apis/compute/guest_const.go). */
function regionStatusOf(expect: 'ACTIVE' | 'SHUTOFF'): string {
  return expect === 'SHUTOFF' ? 'ready' : 'running';
}

/** Storage types a rescue-mode migration refuses (STORAGE_LOCAL_TYPES, pkg/apis/compute/storage_const.go; the KVM ones). */
const LOCAL_STORAGE = new Set(['local', 'nvme_pt', 'nvme', 'lvm', 'baremetal']);

/** A Cloudpods host as the recovery sees it; `marker` is cmpha's `cmpha_reason` metadata, parsed. */
export function hostOf(h: RegionHost, prefixes: MarkerPrefixes): ComputeHost {
  const reason = h.metadata[MARK_KEY] ?? null;
  return {
    id: h.id, name: h.name, ...(h.zone ? { zone: h.zone } : {}),
    state: h.hostStatus === 'online' ? 'up' : 'down',
    status: h.enabled ? 'enabled' : 'disabled',
    // Offline: the region treats the host as down and accepts rescue-mode migrations from it. It does not hold
    // whatever the host does: the agent's next ping brings it online again (PerformPing), so only a host that
    // was fenced first stays offline.
    isolated: h.hostStatus === 'offline',
    reason, marker: parseMarker(reason, prefixes), heartbeatAt: h.updatedAt,
  };
}

/** Free room by the region's own arithmetic: cpu_count × cpu_commit_bound − cpu_commit, (mem_size − mem_reserved) × mem_commit_bound − mem_commit. */
export function capacityOf(h: RegionHost | undefined): HostCapacity {
  if (!h) return { source: 'unknown', why: 'the region lists no such hypervisor host' };
  if (h.cpuCount === undefined || h.memSize === undefined || h.cpuCommit === undefined || h.memCommit === undefined) {
    return { source: 'unknown', why: 'the region gave no cpu/memory commit figures for it' };
  }
  const cpuBound = h.cpuCommitBound ?? 1;
  const memBound = h.memCommitBound ?? 1;
  const mem = h.memReserved !== undefined && h.memReserved > 0 && h.memReserved < h.memSize ? h.memSize - h.memReserved : h.memSize;
  return { freeVcpus: Math.floor(h.cpuCount * cpuBound - h.cpuCommit), freeRamMb: Math.floor(mem * memBound - h.memCommit), source: 'cloudpods' };
}

/**
 * The compute-backend port over a Cloudpods region. What is Cloudpods' stays here: host_status online/offline
 * (offline is the isolation: the region then accepts rescue-mode migrations), enabled plus the `cmpha_reason`
 * host metadata as cmpha's mark, rescue-mode migrate with prefer_host_id as the move (never resent: the region
 * accepts a duplicate), the guest statuses, and the hosts' commit figures as capacity.
 */
export class CloudpodsBackend implements ComputeBackend {
  readonly names = CLOUDPODS_NAMES;
  constructor(private readonly region: RegionApi, private readonly prefixes: MarkerPrefixes) {}

  async describe(opts: CallOptions = {}): Promise<string> {
    const hosts = await this.region.listHosts(opts);
    return `Cloudpods region (compute_v2): ${hosts.length} hypervisor host(s) listed; cmpha moves guests by rescue-mode migrate`;
  }

  async hosts(opts: CallOptions & { readonly name?: string } = {}): Promise<ComputeHost[]> {
    const { name, ...call } = opts;
    const hosts = await this.region.listHosts({ ...call, ...(name !== undefined ? { name } : {}) });
    return hosts.filter((h) => name === undefined || h.name === name).map((h) => hostOf(h, this.prefixes));
  }

  async host(name: string, opts: CallOptions = {}): Promise<ComputeHost> {
    const h = (await this.hosts({ ...opts, name }))[0];
    if (!h) throw new CmphaError('service_not_found', `the Cloudpods region lists no hypervisor host ${name}`);
    return h;
  }

  async hostAddresses(opts: CallOptions = {}): Promise<ReadonlyMap<string, string>> {
    const out = new Map<string, string>();
    for (const h of await this.region.listHosts(opts)) if (h.accessIp) out.set(h.name, h.accessIp);
    return out;
  }

  async isolate(host: ComputeHost, opts: CallOptions & { readonly incidentId?: string } = {}): Promise<void> {
    const { incidentId, ...call } = opts;
    // The reason goes to the region's operation log and its offline notification (PerformOffline).
    await this.region.hostAction(host.id, 'offline', { reason: incidentId ? `cmpha incident ${incidentId}: host fenced` : 'cmpha: host fenced' }, call);
  }

  async mark(host: ComputeHost, incidentId: string, at: number, opts: CallOptions = {}): Promise<string> {
    if (!host.isolated) throw new CmphaError('not_isolated', `${host.name} is still online in the region; set it offline first`);
    const reason = incidentReason(this.prefixes.reasonPrefix, incidentId, at);
    await this.disable(host, reason, opts);
    return reason;
  }

  async disable(host: ComputeHost, reason: string, opts: CallOptions = {}): Promise<void> {
    // The mark first: a disabled host always says why.
    await this.region.hostAction(host.id, 'metadata', { [MARK_KEY]: reason }, opts);
    await this.region.hostAction(host.id, 'disable', {}, opts);
  }

  async enable(host: ComputeHost, opts: CallOptions = {}): Promise<void> {
    // "none" deletes a metadata key (SMetadataManager.rawSetValues, pkg/cloudcommon/db/metadata.go).
    await this.region.hostAction(host.id, 'metadata', { [MARK_KEY]: 'none' }, opts);
    await this.region.hostAction(host.id, 'enable', {}, opts);
  }

  async joinGroups(): Promise<void> {
    // Nothing to join: a migrate with prefer_host_id is scheduled onto that host without the guest's schedtags
    // (GetSchedMigrateParams, pkg/compute/models/guest_actions.go).
  }

  async endIsolation(host: ComputeHost, opts: CallOptions = {}): Promise<string | null> {
    // Never `online` by hand: that would show a host whose agent does not run as live. The agent's first ping
    // brings the host online by itself (PerformPing → PerformOnline).
    const now = await this.host(host.name, opts);
    return now.state === 'up' ? null : 'waiting for its host agent to ping the region (that brings it online)';
  }

  async guestsOn(host: string, opts: CallOptions = {}): Promise<Guest[]> {
    return (await this.region.listGuests({ hostId: host }, opts)).filter((g) => g.host === host).map(guestOf);
  }

  async guestsChangedSince(since: Date, opts: CallOptions = {}): Promise<Guest[]> {
    return (await this.region.listGuests({ since }, opts)).map(guestOf);
  }

  async guest(id: string, opts: CallOptions = {}): Promise<Guest | null> {
    const g = await this.region.getGuest(id, opts);
    return g ? guestOf(g) : null;
  }

  async move(guestId: string, target: string | null, opts: CallOptions = {}): Promise<void> {
    try {
      await this.region.migrate(guestId, { preferHostId: target, rescueMode: true }, opts);
    } catch (err) {
      if (err instanceof CmphaError && err.code === CLOUDPODS_MIGRATE_OUTCOME_UNKNOWN) throw new CmphaError(MOVE_OUTCOME_UNKNOWN, err.message, { cause: err, context: err.context });
      // SKVMGuestDriver.CheckMigrate: "Host status online, can't do rescue mode migration" (400): nothing was done.
      if (/can't do rescue mode migration/i.test(errorMessage(err))) throw new CmphaError(SOURCE_IN_USE, errorMessage(err), { cause: err });
      throw err;
    }
  }

  async moveState(guest: Guest, source: string, opts: CallOptions & { readonly since?: number } = {}): Promise<MoveState> {
    const { since: _since, ...call } = opts;
    const g = await this.region.getGuest(guest.id, call);
    if (g === null) return { kind: 'done', why: 'the region no longer lists the guest (deleted)' };
    return inspectMove(g, source, g.host !== null && g.host !== source ? await this.hostNames(call) : null);
  }

  async whereIs(guestId: string, source: string, opts: CallOptions & { readonly expect?: 'ACTIVE' | 'SHUTOFF' } = {}): Promise<Arrival> {
    const { expect = 'ACTIVE', ...call } = opts;
    const g = await this.region.getGuest(guestId, call);
    const settled = g !== null && g.host !== null && g.host !== source && g.status === regionStatusOf(expect);
    return judgeArrival(g, source, settled ? await this.hostNames(call) : null, expect);
  }

  async liveMove(guestId: string, target: string | null, opts: CallOptions = {}): Promise<void> {
    try {
      await this.region.liveMigrate(guestId, target, opts);
    } catch (err) {
      if (err instanceof CmphaError && err.code === CLOUDPODS_MIGRATE_OUTCOME_UNKNOWN) throw new CmphaError(MOVE_OUTCOME_UNKNOWN, err.message, { cause: err, context: err.context });
      throw err;
    }
  }

  async liveMoveState(guestId: string, source: string, opts: CallOptions = {}): Promise<LiveMoveState> {
    return judgeLiveMove(await this.region.getGuest(guestId, opts), source);
  }

  /**
   * Running and failed guests (and a move under way) are moved and must come back running. A stopped one
   * (ready) is moved too, and stopped again on its new host: a rescue-mode migrate always ends in GuestStartTask
   * on the target (GuestMigrateTask.OnNormalMigrateComplete, pkg/compute/tasks/guest/guest_live_migrate_task.go),
   * so the region starts it there. Any other status (suspended, ...) is left and reported.
   */
  recoveryOf(guest: Guest): GuestRecovery {
    if (guest.status === 'ACTIVE' || guest.status === 'ERROR' || guest.status === 'REBUILD') return { kind: 'move', lasting: guest.status === 'REBUILD' ? 'ACTIVE' : guest.status, expect: 'ACTIVE' };
    if (guest.status === 'SHUTOFF') return { kind: 'move', lasting: 'SHUTOFF', expect: 'SHUTOFF', restore: 'stop', caveat: STARTED_BY_MIGRATE };
    return { kind: 'leave', lasting: guest.status, why: `Cloudpods status ${guest.vmState ?? guest.status}: the Cloudpods adapter moves only running, stopped and failed guests` };
  }

  /** A stopped guest the migrate started is stopped again (PerformStop); the adapter restores nothing else. */
  readonly restore = async (guestId: string, how: Restore, opts: CallOptions = {}): Promise<void> => {
    if (how !== 'stop') throw new CmphaError('restore_unsupported', `the Cloudpods adapter cannot ${how} a guest`);
    await this.region.stop(guestId, opts);
  };

  canLiveMove(guest: Guest): boolean {
    return guest.vmState === 'running';
  }

  async restart(guestId: string, opts: CallOptions = {}): Promise<void> {
    await this.region.restart(guestId, opts);
  }

  async capacity(hosts: readonly string[], opts: CallOptions = {}): Promise<ReadonlyMap<string, HostCapacity>> {
    const out = new Map<string, HostCapacity>();
    if (hosts.length === 0) return out;
    const listed = await this.region.listHosts(opts);
    for (const name of hosts) out.set(name, capacityOf(listed.find((h) => h.name === name)));
    return out;
  }

  /**
   * What the region must be set to for cmpha to be the only one moving a dead host's guests, and for its moves
   * to work: the region's own auto-migration off on every protected host (it migrates without a power fence:
   * OnHostDown → migrateOnHostDown, pkg/compute/models/hosts.go), and every guest's disks on shared storage
   * (a rescue-mode migration refuses local ones: SKVMGuestDriver.CheckMigrate).
   */
  async settingsCheck(hosts: readonly string[], opts: CallOptions = {}): Promise<CloudFinding[]> {
    const listed = new Map((await this.region.listHosts(opts)).map((h) => [h.name, h]));
    const auto = hosts.filter((n) => { const h = listed.get(n); return h !== undefined && (h.autoMigrateOnHostDown || h.metadata[AUTO_MIGRATE_KEY] === 'enable'); });
    const out: CloudFinding[] = [auto.length > 0
      ? { name: 'auto-migrate', status: 'fail', detail: `the region itself migrates the guests of ${auto.join(', ')} when it goes down, with no power fence: two controllers would move the same guests. Disable it on each: climc host-auto-migrate-on-host-down HOST --auto-migrate-on-host-down disable` }
      : { name: 'auto-migrate', status: 'ok', detail: `the region's auto_migrate_on_host_down is off on all ${hosts.length} protected host(s)` }];
    const local: string[] = [];
    const unknown: string[] = [];
    for (const n of hosts) {
      for (const g of await this.region.listGuests({ hostId: n }, opts)) {
        if (g.host !== n) continue;
        if (g.storageTypes === undefined) unknown.push(g.name);
        else if (g.storageTypes.some((t) => LOCAL_STORAGE.has(t))) local.push(`${g.name} on ${n}`);
      }
    }
    out.push(local.length > 0
      ? { name: 'storage', status: 'warn', detail: `${local.length} guest(s) have a disk on local storage and cannot be moved off a dead host (rescue mode needs shared storage): ${local.slice(0, 10).join(', ')}${local.length > 10 ? ', …' : ''}` }
      : { name: 'storage', status: unknown.length > 0 ? 'warn' : 'ok', detail: unknown.length > 0 ? `the region did not say where the disks of ${unknown.length} guest(s) are` : 'every guest on the protected hosts has its disks on shared storage' });
    return out;
  }

  private async hostNames(opts: CallOptions): Promise<ReadonlySet<string> | null> {
    try {
      return new Set((await this.region.listHosts(opts)).map((h) => h.name));
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      return null;
    }
  }
}
