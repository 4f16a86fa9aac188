import type { Config } from '../config/types.js';
import { namesOf, NOVA_NAMES, type CloudNames, type ComputeBackend, type ComputeHost } from '../compute/types.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { mapLimit } from '../shared/map-limit.js';
import type { HostObservation } from './judge.js';
import { InstanceBaseline, listHostAddresses, type InstanceAddress } from './instance-addresses.js';
import { MgmtAddressBook } from './mgmt-addresses.js';
import { ServerChangeFeed } from './server-changes.js';
import type { CrashKernelEvidence, CrashKernelLook, InstanceAddressEvidence, MgmtResult, NetworkEvidence, PowerEvidence, Prober, ProbeResult, StorageEvidence } from './types.js';

// Observation: every piece of I/O the detector does to look at the cloud (Nova, address books, probes), and
// nothing else. It decides no verdict; judge.ts does that from what is returned here.

export interface ObserveTuning {
  /** Healthy hosts' instance addresses are probed once every this many rounds (baseline). */
  readonly baselineEveryRounds: number;
  /**
   * A host where Nova reports a server changed is looked at again each round while one of its addresses has
   * never answered, at most this many times.
   */
  readonly baselineChangedLooks: number;
  /**
   * Nova is asked for the servers it changed (`changes-since`) once every this many full rounds: Nova answers it
   * from its instances table, deleted rows included, so it is not asked every second.
   */
  readonly changesEveryRounds: number;
  /** Hypervisors (host_ip) are listed once every this many rounds. */
  readonly hypervisorRefreshRounds: number;
  /** Parallel Nova calls when listing servers or services per host. */
  readonly novaConcurrency: number;
}

/** An extra source of storage-side evidence (Ceph watchers): asked for hosts under suspicion only. */
export type StorageSignal = (hosts: readonly string[], signal?: AbortSignal) => Promise<ReadonlyMap<string, StorageEvidence>>;

/**
 * The BMCs' last power reads of the hosts under suspicion (power-witness.ts): answers at once with what was read,
 * starting the reads that are due; hosts left out are forgotten.
 */
export type PowerLook = (hosts: readonly string[]) => ReadonlyMap<string, PowerEvidence>;

export interface Observation {
  readonly kind: 'round' | 'suspect-check';
  readonly round: number;
  readonly at: number;
  readonly mono: number;
  /** Every nova-compute host Nova listed (full round), or the hosts re-observed (suspect check). */
  readonly hosts: readonly HostObservation[];
  readonly isolationReason: string | null;
  readonly blindReason: string | null;
  readonly probeFailed: string | null;
  /** Full rounds only: false when Nova could not be listed, so hosts not in `hosts` were not seen. */
  readonly listed: boolean;
}

interface Clocks {
  now(): number;
  mono(): number;
}

interface Probed {
  readonly results: Map<string, ProbeResult>;
  readonly error: string | null;
}

/** Why a service list cannot be used: empty or entries without a host or id. Null when it is fine. */
export function blindness(computes: readonly ComputeHost[], { cloud, agent }: CloudNames = NOVA_NAMES): string | null {
  if (computes.length === 0) return `${cloud} lists no ${agent} service: the detector cannot see any host`;
  const garbled = computes.filter((s) => s.name === '' || s.id === '').length;
  if (garbled > 0) return `${cloud}'s service list is garbled: ${garbled} of ${computes.length} ${agent} entries have no host or id`;
  return null;
}

export class Observer {
  private readonly addressBook: MgmtAddressBook;
  private readonly baseline: InstanceBaseline;
  private readonly changes: ServerChangeFeed;
  /** Instance addresses of hosts under suspicion, listed once per full round and reused by suspect checks. */
  private readonly suspectInstances = new Map<string, { addresses: readonly InstanceAddress[]; error?: string }>();
  /** Full rounds so far (suspect checks share the round numbers, so those do not say how many there were). */
  private fullRounds = 0;
  /** The last service Nova gave for each host, so a suspect check whose read failed still has one to show. */
  private readonly services = new Map<string, ComputeHost>();

  constructor(
    private readonly config: Config,
    private readonly compute: Pick<ComputeBackend, 'hosts' | 'guestsOn' | 'guestsChangedSince' | 'hostAddresses' | 'names'>,
    private readonly prober: Prober,
    private readonly clocks: Clocks,
    private readonly tuning: ObserveTuning,
    private readonly log: Logger,
    private readonly storageSignal?: StorageSignal,
    private readonly powerLook?: PowerLook,
    private readonly crashKernelLook?: CrashKernelLook,
  ) {
    this.addressBook = new MgmtAddressBook(config.hosts, compute, log, tuning.hypervisorRefreshRounds);
    this.baseline = new InstanceBaseline(tuning.baselineEveryRounds, 100, 100, tuning.baselineChangedLooks);
    this.changes = new ServerChangeFeed(compute, log);
  }

  private async probe(ips: readonly string[], signal?: AbortSignal): Promise<Probed> {
    if (ips.length === 0) return { results: new Map(), error: null };
    try {
      return { results: await this.prober.probe(ips, signal), error: null };
    } catch (err) {
      if (signal?.aborted) throw err;
      return { results: new Map(), error: errorMessage(err) };
    }
  }

  private isolation(first: Probed): string | null {
    const iso = this.config.detector.isolationAddresses;
    if (first.error || iso.length === 0 || iso.some((ip) => first.results.get(ip) === 'alive')) return null;
    return `none of the isolation addresses answer (${iso.join(', ')})`;
  }

  private networks(host: string, enabled: boolean, probe: Probed | null): NetworkEvidence[] {
    const crashed = this.crashKernel(host);
    return this.addressBook.networks(host).map((a) => {
      let result: MgmtResult;
      if (!a.ip) result = 'no-address';
      else if (!enabled) result = 'not-probed';
      else if (!probe || probe.error) result = 'probe-failed';
      else result = probe.results.get(a.ip) ?? 'unknown';
      // A crash kernel brings the host's network up to send fence_kdump messages: its answer is not the host's life.
      if (result === 'alive' && crashed) result = 'crash-kernel';
      return { role: a.role, ip: a.ip, source: a.source, result };
    });
  }

  /** The host's addresses: its networks (management, storage, tunnel) as the address book knows them. */
  private networkIps(host: string): string[] {
    return this.addressBook.networks(host).flatMap((a) => (a.ip ? [a.ip] : []));
  }

  /** fence_kdump messages heard lately from one of the host's addresses, or null (none, or no listener). */
  crashKernel(host: string): CrashKernelEvidence | null {
    const ips = this.networkIps(host);
    return this.crashKernelLook && ips.length > 0 ? this.crashKernelLook(ips) : null;
  }

  private instancesFor(host: string, probe: Probed | null): HostObservation['instances'] {
    if (this.config.detector.instanceNetworks.length === 0) return { addresses: [], note: 'instance_networks is empty: no instance evidence' };
    const l = this.suspectInstances.get(host);
    if (!l) return null;
    return {
      ...(l.error ? { error: l.error } : {}),
      addresses: l.addresses.map((a): InstanceAddressEvidence => ({
        ...a,
        baseline: this.baseline.isBaseline(a.ip),
        lastAnsweredAt: this.baseline.lastAnsweredAt(a.ip),
        result: !probe || probe.error ? 'probe-failed' : (probe.results.get(a.ip) ?? 'unknown'),
      })),
    };
  }

  private async storage(hosts: readonly string[], signal?: AbortSignal): Promise<ReadonlyMap<string, StorageEvidence>> {
    if (!this.storageSignal || hosts.length === 0) return new Map();
    try {
      return await this.storageSignal(hosts, signal);
    } catch (err) {
      if (signal?.aborted) throw err;
      this.log.warn({ err: errorMessage(err) }, 'storage-side evidence unavailable');
      return new Map();
    }
  }

  private async listInstances(hosts: readonly string[], signal?: AbortSignal): Promise<void> {
    const networks = this.config.detector.instanceNetworks;
    if (networks.length === 0) return;
    await mapLimit(hosts, this.tuning.novaConcurrency, async (h) => {
      this.suspectInstances.set(h, await listHostAddresses(this.compute, h, networks, signal));
    });
  }

  /**
   * A full round: one services list, every enabled host's addresses in one probe (plus isolation and baseline
   * addresses), then the instance addresses of hosts that look wrong or that `suspects` names.
   */
  async round(round: number, suspects: ReadonlySet<string>, signal?: AbortSignal): Promise<Observation & { recordBaseline: (healthy: (h: string) => boolean) => void }> {
    const at = this.clocks.now();
    const mono = this.clocks.mono();
    let services: ComputeHost[] | null = null;
    let isolationReason: string | null = null;
    let blindReason: string | null = null;
    let readEnd = mono;
    const networks = this.config.detector.instanceNetworks;
    // Servers Nova booted, moved, rebuilt or deleted since the last round, asked for beside the services (it
    // never throws but on abort, and then the round ends anyway): their hosts' baselines are refreshed this round
    // rather than at their next turn, minutes away.
    const ask = networks.length > 0 && this.fullRounds++ % Math.max(1, this.tuning.changesEveryRounds) === 0;
    const polled = ask ? this.changes.poll(signal).catch(() => []) : Promise.resolve([]);
    // Taken whatever becomes of the round: the feed has moved past them.
    const takeChanges = async () => {
      for (const s of await polled) if (s.host) this.baseline.serverChanged(s.host);
    };
    try {
      const all = await this.compute.hosts({ signal });
      readEnd = this.clocks.mono();
      blindReason = blindness(all, namesOf(this.compute));
      services = blindReason ? [] : all;
    } catch (err) {
      if (signal?.aborted) throw err;
      isolationReason = `cannot reach the Nova API: ${errorMessage(err)}`;
    }
    const noop = { recordBaseline: () => undefined };
    if (!services || blindReason) {
      await takeChanges();
      return { kind: 'round', round, at, mono, hosts: [], isolationReason, blindReason, probeFailed: null, listed: false, ...noop };
    }

    const byHost = new Map<string, ComputeHost>();
    for (const s of services) {
      const seen = byHost.get(s.name);
      if (!seen || (seen.status === 'disabled' && s.status === 'enabled')) byHost.set(s.name, s);
    }
    for (const [h, s] of byHost) this.services.set(h, s);
    for (const h of [...this.services.keys()]) if (!byHost.has(h)) { this.services.delete(h); this.suspectInstances.delete(h); }
    const hosts = [...byHost.keys()].sort();
    const enabled = hosts.filter((h) => byHost.get(h)!.status === 'enabled');
    // The first round has no time to ask from until Nova's services give one.
    if (networks.length > 0) this.changes.seed(services);
    await this.addressBook.refresh(round, enabled, signal);
    await takeChanges();

    // Baseline: instance addresses of healthy (or new) hosts, a few hosts per round.
    const baselineHosts = networks.length > 0 ? this.baseline.due(round, enabled.filter((h) => !suspects.has(h))) : [];
    const baselineLists = new Map<string, { addresses: InstanceAddress[] }>();
    await mapLimit(baselineHosts, this.tuning.novaConcurrency, async (h) => {
      const r = await listHostAddresses(this.compute, h, networks, signal);
      if (!r.error) baselineLists.set(h, r);
    });

    const targets = new Set<string>(this.config.detector.isolationAddresses);
    for (const h of enabled) for (const a of this.addressBook.networks(h)) if (a.ip) targets.add(a.ip);
    for (const l of baselineLists.values()) for (const a of l.addresses) targets.add(a.ip);
    // Hosts already under suspicion: their instance addresses ride along, so a round needs no second probe for them.
    for (const h of suspects) for (const a of this.suspectInstances.get(h)?.addresses ?? []) targets.add(a.ip);
    const firstMono = this.clocks.mono();
    const first = await this.probe([...targets], signal);
    isolationReason = this.isolation(first);
    const usable = isolationReason === null && !first.error;

    // Hosts that look wrong get their instance addresses listed and probed.
    const suspicious = usable
      ? enabled.filter((h) => suspects.has(h) || byHost.get(h)!.state === 'down'
        || this.networks(h, true, first).some((n) => n.result === 'silent' || n.result === 'unknown' || n.result === 'crash-kernel'))
      : [];
    for (const h of [...this.suspectInstances.keys()]) if (!suspicious.includes(h)) this.suspectInstances.delete(h);
    await this.listInstances(suspicious, signal);
    const secondTargets = [...new Set(suspicious.flatMap((h) => (this.suspectInstances.get(h)?.addresses ?? []).map((a) => a.ip)))]
      .filter((ip) => !first.results.has(ip));
    const secondMono = this.clocks.mono();
    const probedSecond = await this.probe(secondTargets, signal);
    const second: Probed = { results: new Map([...first.results, ...probedSecond.results]), error: probedSecond.error };
    const storage = await this.storage(suspicious, signal);
    const power = this.powerLook?.(suspicious);

    const probe: Probed = usable ? first : { results: new Map(), error: first.error ?? isolationReason };
    const observed = hosts.map((h): HostObservation => {
      const service = byHost.get(h)!;
      const isEnabled = service.status === 'enabled';
      return {
        host: h, round, at, mono, service,
        // A suspicious host's instance addresses may have been probed second: its silence is proven from then.
        probeMono: suspicious.includes(h) && secondTargets.length > 0 ? secondMono : firstMono,
        serviceRead: { endMono: readEnd },
        networks: this.networks(h, isEnabled, probe),
        instances: suspicious.includes(h) ? this.instancesFor(h, second) : null,
        storage: storage.get(h) ?? null,
        ...(power && suspicious.includes(h) ? { power: power.get(h) ?? null } : {}),
        ...this.crashKernelField(h),
      };
    });
    return {
      kind: 'round', round, at, mono, hosts: observed, isolationReason, blindReason: null, probeFailed: first.error, listed: true,
      recordBaseline: (healthy) => {
        if (!usable) return;
        for (const [h, l] of baselineLists) if (healthy(h)) this.baseline.record(h, l.addresses, first.results, at);
      },
    };
  }

  /**
   * Between rounds: re-read the services of the hosts under suspicion (one call each) and probe all their
   * addresses directly, so their silence is timed to about one probe_interval rather than one round.
   */
  async suspects(round: number, hosts: readonly string[], signal?: AbortSignal): Promise<Observation> {
    const at = this.clocks.now();
    const mono = this.clocks.mono();
    const known = hosts.filter((h) => this.services.has(h));
    const reads = new Map<string, { service: ComputeHost; endMono: number }>();
    await mapLimit(known, this.tuning.novaConcurrency, async (h) => {
      try {
        const list = (await this.compute.hosts({ name: h, signal })).filter((s) => s.name === h);
        const endMono = this.clocks.mono();
        const s = list.find((x) => x.status === 'enabled') ?? list[0];
        if (s && s.id !== '') reads.set(h, { service: s, endMono });
      } catch (err) {
        if (signal?.aborted) throw err;
        this.log.warn({ host: h, err: errorMessage(err) }, 'cannot re-read a suspect\'s service');
      }
    });
    for (const [h, r] of reads) this.services.set(h, r.service);
    await this.listInstances(known.filter((h) => !this.suspectInstances.has(h)), signal);

    const targets = new Set<string>(this.config.detector.isolationAddresses);
    for (const h of known) {
      for (const a of this.addressBook.networks(h)) if (a.ip) targets.add(a.ip);
      for (const a of this.suspectInstances.get(h)?.addresses ?? []) targets.add(a.ip);
    }
    const probeMono = this.clocks.mono();
    const probed = await this.probe([...targets], signal);
    const isolationReason = this.isolation(probed);
    const probe: Probed = isolationReason === null ? probed : { results: new Map(), error: isolationReason };
    const storage = await this.storage(known, signal);
    // Not asked while the controller cannot see (isolation): nothing it reads then is acted on anyway.
    const power = isolationReason === null ? this.powerLook?.(known) : undefined;
    const observed = known.map((h): HostObservation => {
      const read = reads.get(h);
      const service = read?.service ?? this.services.get(h)!;
      return {
        host: h, round, at, mono, service, probeMono,
        serviceRead: read ? { endMono: read.endMono } : null,
        networks: this.networks(h, service.status === 'enabled', probe),
        instances: this.instancesFor(h, probe),
        storage: storage.get(h) ?? null,
        ...(power ? { power: power.get(h) ?? null } : {}),
        ...this.crashKernelField(h),
      };
    });
    return { kind: 'suspect-check', round, at, mono, hosts: observed, isolationReason, blindReason: null, probeFailed: probed.error, listed: true };
  }

  private crashKernelField(host: string): { crashKernel?: CrashKernelEvidence } {
    const c = this.crashKernel(host);
    return c ? { crashKernel: c } : {};
  }

  /**
   * The addresses whose answer would prove the host alive: its networks and its baseline instance addresses; not its
   * networks while its crash kernel sends fence_kdump messages (they answer for the crash kernel).
   */
  liveAddresses(host: string): string[] {
    const out = this.crashKernel(host) ? [] : this.networkIps(host);
    for (const a of this.suspectInstances.get(host)?.addresses ?? []) if (this.baseline.isBaseline(a.ip)) out.push(a.ip);
    return out;
  }

  /** The last look before an incident: a direct probe of every live address. */
  async recheck(host: string, signal?: AbortSignal): Promise<{ alive: string[]; error: string | null }> {
    const ips = this.liveAddresses(host);
    const r = await this.probe(ips, signal);
    if (r.error) return { alive: [], error: r.error };
    const unknown = ips.filter((ip) => r.results.get(ip) !== 'alive' && r.results.get(ip) !== 'silent');
    if (unknown.length > 0) return { alive: [], error: `the probe said nothing about ${unknown.join(', ')}` };
    return { alive: ips.filter((ip) => r.results.get(ip) === 'alive'), error: null };
  }
}
