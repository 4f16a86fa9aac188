// The compute-backend port: what the recovery needs from a cloud, in the recovery's words. An adapter per cloud
// (src/compute/nova for OpenStack) translates; the detector, the pipeline, the evacuator, remediation and doctor
// speak only these types, so a second cloud needs no `if cloud` anywhere but its adapter and the composition root.

export interface CallOptions {
  readonly signal?: AbortSignal;
}

/** cmpha's own mark on a host, read back from the cloud by the adapter (Nova: the disabled reason). */
export interface HostMarker {
  /** The incident cmpha isolated the host for, when its mark names one (and when, if the mark says). */
  readonly incident: { readonly id: string; readonly at: number | null } | null;
  /** The mark keeps the host back as a reserved spare. */
  readonly spare: boolean;
}

/** A compute host as the recovery sees it. */
export interface ComputeHost {
  /** The cloud's handle for the host's compute agent (Nova: the nova-compute service's UUID). */
  readonly id: string;
  readonly name: string;
  readonly zone?: string;
  /** The cloud's own verdict on the agent: down once its heartbeat is stale, or while the host is isolated. */
  readonly state: 'up' | 'down';
  /** Admin state: a disabled host is given no new guests. */
  readonly status: 'enabled' | 'disabled';
  /** Isolated (by an incident or an operator): the cloud treats it as down whatever its heartbeat says. */
  readonly isolated: boolean;
  /** Why it is disabled, as written there (shown to operators); null when no reason is set. */
  readonly reason: string | null;
  /** What cmpha wrote there, parsed. */
  readonly marker: HostMarker;
  /** Last heartbeat OR last admin change, on the cloud's clock: an upper bound on liveness, never proof. */
  readonly heartbeatAt: Date | null;
}

export interface GuestAddress {
  readonly network: string;
  readonly addr: string;
  readonly version: 4 | 6;
  readonly type?: 'fixed' | 'floating';
}

/** A guest (a VM) as the recovery sees it. */
export interface Guest {
  readonly id: string;
  readonly name: string;
  /** The cloud's status word (`ACTIVE`, `SHUTOFF`, `ERROR`, ...), as operators know it. */
  readonly status: string;
  /** An operation the cloud is running on it, null when none. */
  readonly taskState: string | null;
  /** Its power/lifecycle state as the cloud keeps it, null when unknown. */
  readonly vmState: string | null;
  /** Where the cloud says it runs; null while it has no host. */
  readonly host: string | null;
  readonly availabilityZone?: string;
  readonly addresses: readonly GuestAddress[];
  readonly metadata: Readonly<Record<string, string>>;
  readonly userId: string;
  readonly projectId: string;
  /** `extraSpecs`: the flavor's extra specs as the cloud embeds them in the guest (Nova 2.47+); undefined when it did not say. */
  readonly flavor: { readonly vcpus?: number; readonly ramMb?: number; readonly name?: string; readonly extraSpecs?: Readonly<Record<string, string>> };
  /** Last change, on the cloud's clock. */
  readonly updatedAt?: Date;
  /** The image it was booted from; null when volume-backed, undefined when the cloud did not say. */
  readonly imageId?: string | null;
  /** Ids of the volumes attached to it; undefined when the cloud did not say. */
  readonly volumeIds?: readonly string[];
  /**
   * Every disk of the guest, when the cloud names them itself (Cloudpods); undefined for a cloud whose disks are
   * found by its own naming (Nova's `<uuid>_disk`, and Cinder for volumes).
   */
  readonly disks?: readonly GuestDisk[];
  /** Locked against its owner's actions; undefined when the cloud did not say. */
  readonly locked?: boolean;
  /** Why, as whoever locked it wrote; null when no reason was given. */
  readonly lockedReason?: string | null;
}

/** One disk of a guest as the cloud names it. */
export interface GuestDisk {
  readonly id: string;
  /** The cloud's word for where it is stored (`rbd`, `local`, `nfs`, ...), for messages. */
  readonly storage: string;
  /** Its RBD image name in the `[ceph] images_rbd_pool` pool when it is on Ceph; null on any other storage. */
  readonly rbdImage: string | null;
}

/**
 * The state a guest lasts in when no operation runs on it, in the cloud's status words operators know
 * (`ACTIVE`, `SHUTOFF`, `ERROR`, `PAUSED`, `SUSPENDED`, `RESCUE`, `SHELVED`, ...): for a guest caught mid-task, the
 * state under the task (a server mid-hard-reboot is ACTIVE underneath).
 */
export type LastingState = string;

/** What is done after a guest arrives on its new host to give it back the state it had. */
export type Restore = 'stop' | 'pause' | 'suspend';

/**
 * How a dead host's guest is recovered, judged by the adapter from what the cloud shows (a table in the Nova
 * adapter, measured on a real cloud): moved (after a reset when the cloud refuses to move it as it is, then put
 * back in its state), or left on the dead host with why.
 */
export type GuestRecovery =
  | {
    readonly kind: 'move';
    readonly lasting: LastingState;
    /** The cloud refuses to move it as it is: an admin reset first, with why (for the timeline). */
    readonly reset?: { readonly why: string };
    /** The status it must show on its new host once recovered. */
    readonly expect: 'ACTIVE' | 'SHUTOFF' | 'PAUSED' | 'SUSPENDED';
    /** What brings it there after the move (the cloud leaves it running otherwise). */
    readonly restore?: Restore;
    /** What the move cannot give back (for the timeline and the owner's notice). */
    readonly caveat?: string;
  }
  | { readonly kind: 'leave'; readonly lasting: LastingState; readonly why: string };

/** A placement group of hosts (Nova: a host aggregate) with its metadata. */
export interface HostGroup {
  readonly name: string;
  readonly hosts: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
}

export const GUEST_GROUP_POLICIES = ['affinity', 'anti-affinity', 'soft-affinity', 'soft-anti-affinity'] as const;
export type GuestGroupPolicy = (typeof GUEST_GROUP_POLICIES)[number];

/** Guests the cloud places by one policy (Nova: a server group). */
export interface GuestGroup {
  readonly id: string;
  readonly name: string;
  readonly policy: GuestGroupPolicy;
  /** anti-affinity: at most this many members on one host (Nova's `max_server_per_host` rule; default 1). */
  readonly maxPerHost?: number;
  readonly members: readonly string[];
}

/** Free room on a host, as the cloud's scheduler would count it. */
export interface HostCapacity {
  /** Undefined when the cloud gave no figures: the host is then assumed to fit. */
  readonly freeVcpus?: number;
  readonly freeRamMb?: number;
  /** Where the figures come from (for the timeline and doctor): `unknown` when nowhere. */
  readonly source: string;
  /** Why the figures are unknown, or why the preferred source was not used. */
  readonly why?: string;
}

/**
 * What a host offers a guest with special needs (dedicated CPUs, NUMA, PCI, SR-IOV, vGPU), as the cloud's scheduler
 * would see it. Each part undefined when the cloud could not say (`why`).
 */
export interface HostCapabilities {
  /** Free amount per resource class over the host's provider tree (Nova: Placement's PCPU, VGPU, CUSTOM_PCI_*...). */
  readonly resources?: ReadonlyMap<string, number>;
  /** Traits of the host's providers (Nova: Placement traits, e.g. CUSTOM_VNIC_TYPE_DIRECT from Neutron's SR-IOV agent). */
  readonly traits?: ReadonlySet<string>;
  /** NUMA nodes (Nova: the hypervisor's cpu_info topology cells). */
  readonly numaNodes?: number;
  readonly why?: string;
}

/**
 * Where a move of a guest away from `source` stands, before another one is sent: nothing under way (`none`:
 * a move may be sent), one `in-flight`, already `done`, `busy` (the cloud is doing something else with it, or
 * cannot say where it runs: wait). `why` is written for the timeline.
 */
export type MoveState =
  | { readonly kind: 'none' }
  | { readonly kind: 'in-flight' | 'done' | 'busy'; readonly why: string };

/**
 * Where a guest runs after a move away from `source`: `arrived` once the cloud shows it running on another
 * host it lists, with the move finished (and how long the move took by the cloud's own times, when it says);
 * `failed` when the move ended badly; `waiting` otherwise (cannot verify yet, with why); `gone` when deleted.
 */
export type Arrival =
  | { readonly kind: 'arrived'; readonly host: string; readonly tookMs?: number }
  /** `noRoom`: the cloud could not place it on the chosen target and it is still on the source (a retry elsewhere is no blind repeat). */
  | { readonly kind: 'failed'; readonly why: string; readonly noRoom?: boolean }
  | { readonly kind: 'waiting'; readonly why: string }
  | { readonly kind: 'gone' };

/** Where a live move (planned maintenance) stands: arrived, stopped on the source (final or not yet), or still under way. */
export type LiveMoveState =
  | { readonly kind: 'arrived'; readonly host: string }
  | { readonly kind: 'stopped'; readonly host: string | null; readonly why: string; readonly final: boolean }
  | { readonly kind: 'waiting'; readonly host: string | null; readonly why: string }
  | { readonly kind: 'gone' };

/** One network attachment of a guest, as the recovery judges it after a move. */
export interface GuestPort {
  readonly id: string;
  /** `ACTIVE` once the network side has wired it on its host. */
  readonly status: string;
  /** The host it is bound to ('' = unbound); null when the account may not read bindings. */
  readonly boundHost: string | null;
  /** The network side could not bind it on that host: final until someone acts. */
  readonly bindingFailed: boolean;
}

/**
 * How the cloud's operators name it and its parts: the timeline, notices, alerts and doctor speak these words, so
 * a Cloudpods operator reads "Cloudpods" and "the host agent" where a Nova operator reads "Nova" and "nova-compute".
 */
export interface CloudNames {
  /** The cloud's compute API as operators call it: `Nova`, `Cloudpods`. */
  readonly cloud: string;
  /** The per-host agent whose heartbeat is read: `nova-compute`, `host agent`. */
  readonly agent: string;
  /** What the cloud isolates and disables for a host (Nova: `nova-compute on HOST`; Cloudpods: `host HOST`). */
  service(host: string): string;
  /** The isolation done, and being done again: `forced down` / `forcing it down`; `set offline` / `setting it offline`. */
  readonly isolated: string;
  readonly isolating: string;
}

/** Nova's words (and those of a test double that names no cloud). */
export const NOVA_NAMES: CloudNames = {
  cloud: 'Nova', agent: 'nova-compute', service: (host) => `nova-compute on ${host}`, isolated: 'forced down', isolating: 'forcing it down',
};

/**
 * The small interface the detector, the last look before a fence and remediation read heartbeats through:
 * the compute hosts, each with its admin state, the cloud's verdict and its last heartbeat.
 */
export interface HeartbeatSource {
  /** The cloud's words for the timeline and notices; Nova's when absent. */
  readonly names?: CloudNames;
  /** Every compute host the cloud lists (only those named `name` when given). Throws when it cannot be read. */
  hosts(opts?: CallOptions & { readonly name?: string }): Promise<ComputeHost[]>;
}

/** The cloud's words of a heartbeat source or backend (Nova's for one that names none). */
export function namesOf(source: Pick<HeartbeatSource, 'names'>): CloudNames {
  return source.names ?? NOVA_NAMES;
}

/** What the recovery needs from a cloud. Every mutation is idempotent or, for moves, never resent blindly. */
export interface ComputeBackend extends HeartbeatSource {
  readonly names: CloudNames;
  /** One line about the cloud's API for `cmpha doctor` (version spoken, what cmpha needs). */
  describe(opts?: CallOptions): Promise<string>;
  /** One host; a host the cloud does not know is an error naming it (`service_not_found`). */
  host(name: string, opts?: CallOptions): Promise<ComputeHost>;
  /** The management address the cloud records per host name (callers use only IP literals). */
  hostAddresses(opts?: CallOptions): Promise<ReadonlyMap<string, string>>;

  /**
   * Isolates a dead host: the cloud stops waiting for it and treats it as down at once (Nova: forced down;
   * Cloudpods: offline, with a reason naming `incidentId` in the region's log).
   */
  isolate(host: ComputeHost, opts?: CallOptions & { readonly incidentId?: string }): Promise<void>;
  /**
   * Keeps new guests off an isolated host with cmpha's mark naming the incident and `at`; returns the mark.
   * Refuses a host not isolated yet (Nova would wait a minute for the dead host).
   */
  mark(host: ComputeHost, incidentId: string, at: number, opts?: CallOptions): Promise<string>;
  /** Admin state of a live host: disabled with `reason` (maintenance, a spare kept back), or enabled. */
  disable(host: ComputeHost, reason: string, opts?: CallOptions): Promise<void>;
  enable(host: ComputeHost, opts?: CallOptions): Promise<void>;
  /**
   * Puts each spare into every placement group of `failedHost` it is not in yet (Nova: host aggregates), with
   * `before` called ahead of each change (the fence guard) and `after` once it is made (the timeline).
   */
  joinGroups(spares: readonly string[], failedHost: string, opts?: CallOptions & {
    readonly before?: (spare: string, group: string) => Promise<void>;
    readonly after?: (spare: string, group: string) => Promise<void>;
  }): Promise<void>;
  /**
   * Host name → the placement groups it is in (Nova: host aggregates, by name): what `cmpha ha disarm --aggregate`
   * and the per-aggregate recovery limits match. Absent for a cloud without such groups (no host is in any).
   */
  readonly groups?: (opts?: CallOptions) => Promise<ReadonlyMap<string, readonly string[]>>;
  /** Lifts a repaired host's isolation once the cloud accepts it: null when lifted, else why not yet. */
  endIsolation(host: ComputeHost, opts?: CallOptions): Promise<string | null>;

  /** Every guest on `host`, all projects. A list that cannot be read throws, never answers empty. */
  guestsOn(host: string, opts?: CallOptions): Promise<Guest[]>;
  /** Guests changed since `since` (a time the cloud wrote), deleted ones included. */
  guestsChangedSince(since: Date, opts?: CallOptions): Promise<Guest[]>;
  /** null when the cloud does not know it (deleted). */
  guest(id: string, opts?: CallOptions): Promise<Guest | null>;

  /**
   * Asks the cloud to move a dead host's guest to `target` (null: the cloud chooses). Never retried on its own:
   * when the request may have acted it throws code MOVE_OUTCOME_UNKNOWN; when the cloud still believes the
   * source alive it throws SOURCE_IN_USE (nothing was done).
   */
  move(guestId: string, target: string | null, opts?: CallOptions): Promise<void>;
  /** Before a move is sent: whether one is under way or done (`since`: when cmpha first asked, if it did). */
  moveState(guest: Guest, source: string, opts?: CallOptions & { readonly since?: number }): Promise<MoveState>;
  /**
   * After a move was accepted: whether the guest runs on another host. `expect`: the status it comes back in
   * (a stopped guest stays stopped through the move: `SHUTOFF`); `ACTIVE` when not given.
   */
  whereIs(guestId: string, source: string, opts?: CallOptions & { readonly expect?: 'ACTIVE' | 'SHUTOFF' }): Promise<Arrival>;
  /** Planned maintenance: move a running guest off a live host. Throws MOVE_OUTCOME_UNKNOWN like `move`. */
  liveMove(guestId: string, target: string | null, opts?: CallOptions): Promise<void>;
  liveMoveState(guestId: string, source: string, opts?: CallOptions): Promise<LiveMoveState>;
  /** How `guest`, found on a dead host, is recovered (pure: from what the cloud showed). */
  recoveryOf(guest: Guest): GuestRecovery;
  /**
   * Clears an operation the dead host will never finish, so the cloud accepts the move (Nova: os-resetState to
   * error). Setting it twice leaves the same state. Absent: `recoveryOf` never asks for a reset.
   */
  readonly resetStuck?: (guestId: string, opts?: CallOptions) => Promise<void>;
  /**
   * Locks a guest against its owner's actions with `reason` (shown to its owner); a no-op on a locked guest.
   * Absent with `unlock` when the cloud has no such lock: guests are then moved unlocked.
   */
  readonly lock?: (guestId: string, reason: string, opts?: CallOptions) => Promise<void>;
  readonly unlock?: (guestId: string, opts?: CallOptions) => Promise<void>;
  /** Every locked guest, with its lock reason (present with `lock`). */
  readonly lockedGuests?: (opts?: CallOptions) => Promise<Guest[]>;
  /** Puts a moved guest back into the state it had (`restore` of its recovery). Not retried on its own. */
  readonly restore?: (guestId: string, how: Restore, opts?: CallOptions) => Promise<void>;
  /** Hard restart of a guest (a moved guest whose network stays silent). Not retried on its own. */
  restart(guestId: string, opts?: CallOptions): Promise<void>;
  /**
   * Powers a guest off, and on again (instance-failure recovery: Nova os-stop / os-start). Not retried on their
   * own; the caller reads the guest back. Absent: this cloud's adapter cannot, and VM notifications page instead.
   */
  readonly stopGuest?: (guestId: string, opts?: CallOptions) => Promise<void>;
  readonly startGuest?: (guestId: string, opts?: CallOptions) => Promise<void>;
  /** Whether a guest can be live-moved in its current state. */
  canLiveMove(guest: Guest): boolean;

  /** Every placement group of hosts with its metadata (the evacuability policy reads it); absent when the cloud has none. */
  readonly hostGroups?: (opts?: CallOptions) => Promise<HostGroup[]>;
  /** The properties of each image that can be read (absent from the map: the cloud could not say); absent when the cloud has no images. */
  readonly imageProperties?: (imageIds: readonly string[], opts?: CallOptions) => Promise<ReadonlyMap<string, Readonly<Record<string, string>>>>;
  /** Every guest group with its policy and members; absent when the cloud has none. */
  readonly guestGroups?: (opts?: CallOptions) => Promise<GuestGroup[]>;

  /** Free room on each of `hosts` (an entry for each). */
  capacity(hosts: readonly string[], opts?: CallOptions): Promise<ReadonlyMap<string, HostCapacity>>;
  /** What each of `hosts` offers guests with special needs (an entry for each); absent: the cloud cannot say. */
  readonly hostCapabilities?: (hosts: readonly string[], opts?: CallOptions) => Promise<ReadonlyMap<string, HostCapabilities>>;

  /** The guest's network attachments; absent when the cloud's network side cannot be read. */
  readonly ports?: (guestId: string, opts?: CallOptions) => Promise<GuestPort[]>;
  /**
   * The cloud's own settings cmpha relies on for `hosts` (the compute hosts it protects), for `cmpha doctor`
   * (Cloudpods: the region's own auto-migration off, guests' disks on shared storage); absent: nothing beyond the port.
   */
  readonly settingsCheck?: (hosts: readonly string[], opts?: CallOptions) => Promise<CloudFinding[]>;
  /**
   * Whether the cloud's scheduler would answer a move now: null when it would, else why not (Nova: no
   * nova-scheduler service reads up). Absent: the cloud has no separate scheduler to ask about.
   */
  readonly schedulerReady?: (opts?: CallOptions) => Promise<string | null>;
}

/** One finding about the cloud's own settings (doctor shows it as a check named `cloud:<name>`). */
export interface CloudFinding {
  readonly name: string;
  readonly status: 'ok' | 'warn' | 'fail';
  readonly detail: string;
}

/** A move request failed in a way that leaves open whether the cloud acted: re-read, never resend blindly. */
export const MOVE_OUTCOME_UNKNOWN = 'move_outcome_unknown';
/** The cloud refused a move because it still believes the source host alive: isolate it again, then ask again. */
export const SOURCE_IN_USE = 'source_in_use';
