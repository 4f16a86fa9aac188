import { MIN_MICROVERSION } from '../../openstack/nova.js';
import { NOVA_EVACUATE_OUTCOME_UNKNOWN, NOVA_LIVE_MIGRATE_OUTCOME_UNKNOWN } from '../../openstack/errors.js';
import type { ComputeService, ImageApi, NeutronApi, NovaApi, PlacementApi, Port } from '../../openstack/types.js';
import { CmphaError, errorMessage } from '../../shared/errors.js';
import {
  GUEST_GROUP_POLICIES, MOVE_OUTCOME_UNKNOWN, NOVA_NAMES, SOURCE_IN_USE,
  type Arrival, type CallOptions, type ComputeBackend, type ComputeHost, type Guest, type GuestGroup, type GuestPort, type GuestRecovery, type HostCapabilities, type HostCapacity, type HostGroup,
  type LiveMoveState, type MoveState, type Restore,
} from '../types.js';
import { novaRecoveryOf } from './server-states.js';
import { needsServerSum, spareCapacity } from './capacity.js';
import { incidentReason, parseMarker, type MarkerPrefixes } from '../marker.js';
import { arrivedLive, evacuationsFrom, inspectMove, judge, judgeLiveMove, looksFinished, migrationDuration } from './migrations.js';

export interface NovaBackendOptions extends MarkerPrefixes {
  /** Spare capacity from Placement (asked first: it knows the allocation ratios); the hypervisor's figures otherwise. */
  readonly placement?: PlacementApi;
  /** A moved server's ports, from Neutron; absent = the port's `ports` is absent (not checked). */
  readonly neutron?: NeutronApi;
  /** Image properties, from Glance (an evacuability rule may look at them); absent = no image rule can match. */
  readonly images?: ImageApi;
}

/** A nova-compute service as the recovery sees a host; `marker` is cmpha's disabled_reason, parsed. */
export function hostOf(svc: ComputeService, prefixes: MarkerPrefixes): ComputeHost {
  return {
    id: svc.id, name: svc.host, ...(svc.zone ? { zone: svc.zone } : {}), state: svc.state, status: svc.status,
    isolated: svc.forcedDown, reason: svc.disabledReason, marker: parseMarker(svc.disabledReason, prefixes), heartbeatAt: svc.updatedAt,
  };
}

/** A Neutron port as the recovery judges it. */
export function portOf(p: Port): GuestPort {
  return { id: p.id, status: p.status, boundHost: p.hostId, bindingFailed: p.vifType === 'binding_failed' };
}

function hasCode(err: unknown, code: string): err is CmphaError {
  return err instanceof CmphaError && err.code === code;
}

/** Nova answering an evacuate with "Compute service of HOST is still in use." (400): it refused before acting. */
export function isStillInUse(err: unknown): boolean {
  return (err instanceof CmphaError && err.code === 'nova_service_in_use') || /still in use/i.test(errorMessage(err));
}

/**
 * The compute-backend port over Nova (with Placement for capacity and Neutron for ports). Everything that is
 * Nova's stays here: nova-compute services, forced_down before disable, disabled_reason as cmpha's mark,
 * migrations and task states, hypervisors and aggregates. Reads are retried by the HTTP layer; evacuate and
 * live-migrate never are (a duplicate evacuate corrupts the server: nova-facts).
 */
export class NovaBackend implements ComputeBackend {
  readonly names = NOVA_NAMES;
  readonly ports?: (guestId: string, opts?: CallOptions) => Promise<GuestPort[]>;
  readonly imageProperties?: (imageIds: readonly string[], opts?: CallOptions) => Promise<ReadonlyMap<string, Readonly<Record<string, string>>>>;

  readonly resetStuck: (guestId: string, opts?: CallOptions) => Promise<void>;
  readonly lock: (guestId: string, reason: string, opts?: CallOptions) => Promise<void>;
  readonly unlock: (guestId: string, opts?: CallOptions) => Promise<void>;
  readonly lockedGuests: (opts?: CallOptions) => Promise<Guest[]>;
  readonly restore: (guestId: string, how: Restore, opts?: CallOptions) => Promise<void>;

  constructor(private readonly nova: NovaApi, private readonly opts: NovaBackendOptions) {
    // To error, not active: a server whose move then fails shows what it is (Masakari and InstanceHA do the same).
    this.resetStuck = (guestId, o = {}) => nova.resetState(guestId, 'error', o);
    this.lock = (guestId, reason, o = {}) => nova.lock(guestId, reason, o);
    this.unlock = (guestId, o = {}) => nova.unlock(guestId, o);
    this.lockedGuests = (o = {}) => nova.listLockedServers(o);
    this.restore = (guestId, how, o = {}) => nova.powerAction(guestId, how === 'stop' ? 'os-stop' : how, o);
    const neutron = opts.neutron;
    if (neutron) this.ports = async (guestId, o = {}) => (await neutron.listPorts(guestId, o)).map(portOf);
    const images = opts.images;
    if (images) {
      this.imageProperties = async (ids, o = {}) => {
        const out = new Map<string, Readonly<Record<string, string>>>();
        // One read per image, not per server: a host's servers share a handful of images.
        for (const id of new Set(ids)) {
          const props = await images.properties(id, o);
          if (props) out.set(id, props);
        }
        return out;
      };
    }
  }

  /** Nova's host aggregates with their metadata. */
  async hostGroups(opts: CallOptions = {}): Promise<HostGroup[]> {
    return (await this.nova.listAggregates(opts)).map((a) => ({ name: a.name, hosts: a.hosts, metadata: a.metadata }));
  }

  /** Nova's server groups; a group with a policy cmpha does not know is left out (nothing to keep). */
  async guestGroups(opts: CallOptions = {}): Promise<GuestGroup[]> {
    const out: GuestGroup[] = [];
    for (const g of await this.nova.listServerGroups(opts)) {
      if (!(GUEST_GROUP_POLICIES as readonly string[]).includes(g.policy)) continue;
      out.push({ id: g.id, name: g.name, policy: g.policy as GuestGroup['policy'], members: g.members, ...(g.maxServerPerHost !== undefined ? { maxPerHost: g.maxServerPerHost } : {}) });
    }
    return out;
  }

  async describe(opts: CallOptions = {}): Promise<string> {
    const mv = await this.nova.microversion(opts);
    return `compute API microversion ${mv} (cmpha needs ${MIN_MICROVERSION} or newer)`;
  }

  /** An evacuation goes through nova-scheduler (even with a target host, 2.29+): at least one must read up. */
  readonly schedulerReady = async (opts: CallOptions = {}): Promise<string | null> => {
    if (!this.nova.listServices) return null;
    const schedulers = await this.nova.listServices('nova-scheduler', opts);
    if (schedulers.length === 0) return 'Nova lists no nova-scheduler service';
    if (schedulers.some((s) => s.state === 'up')) return null;
    return `no nova-scheduler answers: ${schedulers.map((s) => `${s.host} ${s.state}${s.status === 'disabled' ? ' (disabled)' : ''}`).join(', ')}`;
  };

  async hosts(opts: CallOptions & { readonly name?: string } = {}): Promise<ComputeHost[]> {
    const { name, ...call } = opts;
    const services = await this.nova.listComputeServices({ ...call, ...(name !== undefined ? { host: name } : {}) });
    return services.filter((s) => s.binary === 'nova-compute').map((s) => hostOf(s, this.opts));
  }

  async host(name: string, opts: CallOptions = {}): Promise<ComputeHost> {
    const h = (await this.hosts({ ...opts, name })).find((x) => x.name === name);
    if (!h) throw new CmphaError('service_not_found', `Nova has no nova-compute service on host ${name}`);
    return h;
  }

  async hostAddresses(opts: CallOptions = {}): Promise<ReadonlyMap<string, string>> {
    const out = new Map<string, string>();
    for (const h of await this.nova.listHypervisors(opts)) if (h.hostIp) out.set(h.serviceHost, h.hostIp);
    return out;
  }

  async isolate(host: ComputeHost, opts: CallOptions & { readonly incidentId?: string } = {}): Promise<void> {
    // forced_down carries no reason: the incident is named by mark's disabled_reason.
    const { incidentId: _incident, ...call } = opts;
    await this.nova.updateService(host.id, { forcedDown: true }, call);
  }

  async mark(host: ComputeHost, incidentId: string, at: number, opts: CallOptions = {}): Promise<string> {
    // Disabling a service Nova still believes up makes nova-api wait for the dead host for a minute (nova-facts).
    if (!host.isolated) throw new CmphaError('not_forced_down', `refusing to disable ${host.name} before it is forced down (Nova would block for a minute)`);
    const reason = incidentReason(this.opts.reasonPrefix, incidentId, at);
    await this.nova.updateService(host.id, { status: 'disabled', disabledReason: reason }, opts);
    return reason;
  }

  async disable(host: ComputeHost, reason: string, opts: CallOptions = {}): Promise<void> {
    await this.nova.updateService(host.id, { status: 'disabled', disabledReason: reason }, opts);
  }

  async enable(host: ComputeHost, opts: CallOptions = {}): Promise<void> {
    await this.nova.updateService(host.id, { status: 'enabled' }, opts);
  }

  async joinGroups(spares: readonly string[], failedHost: string, opts: CallOptions & {
    readonly before?: (spare: string, group: string) => Promise<void>;
    readonly after?: (spare: string, group: string) => Promise<void>;
  } = {}): Promise<void> {
    const { before, after, ...call } = opts;
    for (const agg of (await this.nova.listAggregates(call)).filter((a) => a.hosts.includes(failedHost))) {
      for (const spare of spares) {
        if (agg.hosts.includes(spare)) continue;
        await before?.(spare, agg.name);
        await this.nova.addHostToAggregate(agg.id, spare, call);
        await after?.(spare, agg.name);
      }
    }
  }

  readonly groups = async (opts: CallOptions = {}): Promise<ReadonlyMap<string, readonly string[]>> => {
    const out = new Map<string, string[]>();
    for (const agg of await this.nova.listAggregates(opts)) {
      for (const h of agg.hosts) out.set(h, [...(out.get(h) ?? []), agg.name]);
    }
    return out;
  };

  async endIsolation(host: ComputeHost, opts: CallOptions = {}): Promise<string | null> {
    const pending = (await this.nova.listMigrations({ host: host.name, type: 'evacuation' }, opts))
      .filter((m) => m.sourceCompute === host.name && m.status === 'done');
    if (pending.length > 0) return `waiting for nova-compute to clean up ${pending.length} evacuation(s) (migrations still 'done')`;
    try {
      await this.nova.updateService(host.id, { forcedDown: false }, opts);
      return null;
    } catch (err) {
      // Nova refuses while `done` evacuations remain; the listing may lag behind it.
      return `Nova does not yet accept forced_down=false: ${errorMessage(err)}`;
    }
  }

  guestsOn(host: string, opts: CallOptions = {}): Promise<Guest[]> {
    return this.nova.listServersOnHost(host, opts);
  }

  guestsChangedSince(since: Date, opts: CallOptions = {}): Promise<Guest[]> {
    return this.nova.listServersChangedSince(since, opts);
  }

  guest(id: string, opts: CallOptions = {}): Promise<Guest | null> {
    return this.nova.getServer(id, opts);
  }

  async move(guestId: string, target: string | null, opts: CallOptions = {}): Promise<void> {
    try {
      await this.nova.evacuate(guestId, target ?? undefined, opts);
    } catch (err) {
      if (hasCode(err, NOVA_EVACUATE_OUTCOME_UNKNOWN)) throw new CmphaError(MOVE_OUTCOME_UNKNOWN, err.message, { cause: err, context: err.context });
      if (isStillInUse(err)) throw new CmphaError(SOURCE_IN_USE, errorMessage(err), { cause: err });
      throw err;
    }
  }

  async moveState(guest: Guest, source: string, opts: CallOptions & { readonly since?: number } = {}): Promise<MoveState> {
    const { since, ...call } = opts;
    if (guest.host !== null && guest.host !== source) return inspectMove(guest, source, [], await this.computeHosts(call), since);
    const migrations = await this.nova.listMigrations({ instanceId: guest.id, type: 'evacuation' }, call);
    return inspectMove(guest, source, migrations, undefined, since);
  }

  async whereIs(guestId: string, source: string, opts: CallOptions & { readonly expect?: 'ACTIVE' | 'SHUTOFF' } = {}): Promise<Arrival> {
    const { expect = 'ACTIVE', ...call } = opts;
    const server = await this.nova.getServer(guestId, call);
    if (server === null) return { kind: 'gone' };
    const latest = evacuationsFrom(await this.nova.listMigrations({ instanceId: guestId, type: 'evacuation' }, call), source)[0];
    const v = judge(server, source, latest?.status, looksFinished(server, source, expect) ? await this.computeHosts(call) : null, expect);
    // The migration in error with the server not moved: what Nova's scheduler says when the target had no room.
    if (v.kind === 'failed') return { kind: 'failed', why: v.why, ...(/^evacuation migration (error|failed)$/.test(v.why) ? { noRoom: true } : {}) };
    if (v.kind !== 'verified') return v;
    const took = migrationDuration(latest);
    return { kind: 'arrived', host: v.host, ...(took !== undefined ? { tookMs: took } : {}) };
  }

  async liveMove(guestId: string, target: string | null, opts: CallOptions = {}): Promise<void> {
    try {
      await this.nova.liveMigrate(guestId, target ?? undefined, opts);
    } catch (err) {
      if (hasCode(err, NOVA_LIVE_MIGRATE_OUTCOME_UNKNOWN)) throw new CmphaError(MOVE_OUTCOME_UNKNOWN, err.message, { cause: err, context: err.context });
      throw err;
    }
  }

  async liveMoveState(guestId: string, source: string, opts: CallOptions = {}): Promise<LiveMoveState> {
    const server = await this.nova.getServer(guestId, opts);
    if (!server) return { kind: 'gone' };
    // Arrived needs no migration list: one call fewer each poll.
    const arrived = arrivedLive(server, source);
    if (arrived !== null) return { kind: 'arrived', host: arrived };
    return judgeLiveMove(server, source, await this.nova.listMigrations({ instanceId: guestId, type: 'live-migration' }, opts));
  }

  canLiveMove(guest: Guest): boolean {
    return guest.status === 'ACTIVE';
  }

  recoveryOf(guest: Guest): GuestRecovery {
    return novaRecoveryOf(guest);
  }

  async restart(guestId: string, opts: CallOptions = {}): Promise<void> {
    await this.nova.reboot(guestId, 'HARD', opts);
  }

  readonly stopGuest = (guestId: string, opts: CallOptions = {}): Promise<void> => this.power(guestId, 'os-stop', opts);

  readonly startGuest = (guestId: string, opts: CallOptions = {}): Promise<void> => this.power(guestId, 'os-start', opts);

  private async power(guestId: string, action: 'os-stop' | 'os-start', opts: CallOptions): Promise<void> {
    await this.nova.powerAction(guestId, action, opts);
  }

  async capacity(hosts: readonly string[], opts: CallOptions = {}): Promise<ReadonlyMap<string, HostCapacity>> {
    const out = new Map<string, HostCapacity>();
    if (hosts.length === 0) return out;
    const hypervisors = await this.nova.listHypervisors(opts);
    for (const host of hosts) {
      const hv = hypervisors.find((h) => h.serviceHost === host);
      const onHost = needsServerSum(hv) ? await this.nova.listServersOnHost(host, opts) : undefined;
      out.set(host, await spareCapacity(hv, onHost, this.opts.placement, opts));
    }
    return out;
  }

  /** Placement's inventories and traits over each host's provider tree, and the NUMA cells its hypervisor reports. */
  readonly hostCapabilities = async (hosts: readonly string[], opts: CallOptions = {}): Promise<ReadonlyMap<string, HostCapabilities>> => {
    const out = new Map<string, HostCapabilities>();
    if (hosts.length === 0) return out;
    const hypervisors = await this.nova.listHypervisors(opts);
    for (const host of hosts) {
      const hv = hypervisors.find((h) => h.serviceHost === host);
      if (!hv) {
        out.set(host, { why: 'Nova lists no hypervisor for it' });
        continue;
      }
      let facts: { resources: Map<string, number>; traits: Set<string> } | null = null;
      let why: string | undefined;
      try {
        facts = this.opts.placement?.providerTreeFacts ? await this.opts.placement.providerTreeFacts(hv, opts) : null;
        if (!facts) why = 'Placement gave no figures (no placement endpoint, or no resource provider for it)';
      } catch (err) {
        if (opts.signal?.aborted) throw err;
        why = `Placement could not be read: ${errorMessage(err)}`;
      }
      out.set(host, {
        ...(facts ? { resources: facts.resources, traits: facts.traits } : {}),
        ...(hv.numaCells !== undefined ? { numaNodes: hv.numaCells } : {}), ...(why ? { why } : {}),
      });
    }
    return out;
  };

  /**
   * The nova-compute hosts Nova lists now, or null when the list cannot be read. A server is only believed to
   * run on a host that is one of them: a name Nova's own service list does not know is a garbled answer.
   */
  private async computeHosts(opts: CallOptions): Promise<ReadonlySet<string> | null> {
    try {
      return new Set((await this.nova.listComputeServices(opts)).filter((s) => s.binary === 'nova-compute').map((s) => s.host));
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      return null;
    }
  }
}

/** The Nova adapter over a client (or a leader-only wrapper of one). */
export function novaBackend(nova: NovaApi, opts: NovaBackendOptions): NovaBackend {
  return new NovaBackend(nova, opts);
}
