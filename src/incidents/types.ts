import type { DeliveryRecord } from '../notifier/types.js';

export type IncidentStatus =
  | 'open'
  | 'fencing'
  | 'awaiting_fence'
  | 'fenced'
  | 'evacuating'
  | 'verifying'
  | 'resolved'
  | 'partial'
  | 'failed'
  | 'aborted';

export const TERMINAL_STATUSES: readonly IncidentStatus[] = ['resolved', 'partial', 'failed', 'aborted'];

export function isTerminalStatus(s: IncidentStatus): boolean {
  return TERMINAL_STATUSES.includes(s);
}

/**
 * `degraded`: the server runs ACTIVE on another host but its network did not come back with it (a port not
 * bound there or not ACTIVE, or an address that answered before the failure stays silent). Final, and not a
 * recovery: an incident with a degraded server is not resolved.
 */
/**
 * `awaiting_capacity`: no host the cloud would place it on has room for it now; it waits (rechecked on an
 * interval, bounded by `[evacuation] capacity_wait`) and moves as soon as room appears.
 */
export type InstanceState = 'pending' | 'awaiting_capacity' | 'skipped' | 'excluded' | 'evacuating' | 'evacuated' | 'verified' | 'degraded' | 'failed' | 'deleted';

/**
 * States after which nothing more happens to an instance within this incident. `excluded`: left on the failed
 * host because the evacuability policy says it must never be moved (the rule is in `policyRule`): the operator's
 * choice, so it does not count against the incident. `skipped`: left for any other reason.
 */
export const FINAL_INSTANCE_STATES: readonly InstanceState[] = ['skipped', 'excluded', 'verified', 'degraded', 'failed', 'deleted'];

/** What an operator should look at for a degraded server. */
export type NetworkIssue = 'port-binding' | 'port-down' | 'silent';

/** An address of the server that answered while its old host was healthy: it must answer again. */
export interface WatchedAddress {
  readonly ip: string;
  /** The last time it (or, when later, its host) was seen alive before the failure, epoch ms. */
  readonly lastAliveAt?: number;
}

/** The order servers are evacuated in: tier first (a gate between tiers), then priority (higher first), name, id. */
export function instanceOrder(a: Pick<InstanceEntry, 'priority' | 'name' | 'id' | 'tier'>, b: Pick<InstanceEntry, 'priority' | 'name' | 'id' | 'tier'>): number {
  return (a.tier ?? 1) - (b.tier ?? 1) || b.priority - a.priority || a.name.localeCompare(b.name) || a.id.localeCompare(b.id);
}

export function isFinalInstanceState(s: InstanceState): boolean {
  return FINAL_INSTANCE_STATES.includes(s);
}

/** Why the incident exists: the detector proved the host dead, or an operator asked. */
export type IncidentOrigin = 'detector' | 'operator';

export interface TimelineEntry {
  readonly at: number;
  /** A short stable name: fence, force-down, disable, spare, evacuate, verify, notify, ... */
  readonly step: string;
  readonly level: 'info' | 'warning' | 'critical';
  readonly message: string;
  readonly serverId?: string;
  readonly data?: Readonly<Record<string, unknown>>;
}

export interface SpareAssignment {
  readonly host: string;
  readonly serverIds: readonly string[];
}

export interface InstanceEntry {
  /** Compare-and-set revision; bumped by the store on every write. */
  readonly rev: number;
  readonly id: string;
  readonly name: string;
  readonly projectId: string;
  readonly userId: string;
  readonly source: string;
  /** Where we asked Nova to put it; null = the scheduler chooses. After verification: where it runs. */
  readonly target: string | null;
  readonly state: InstanceState;
  /** Higher moves first. */
  readonly priority: number;
  /** The policy's tier (1-based): a tier starts once every server of the tiers before it is settled. Absent: 1. */
  readonly tier?: number;
  /** The policy rule (as written) or setting that decided whether it moves, and what set its priority. */
  readonly policyRule?: string;
  readonly priorityFrom?: string;
  /** `extraSpecs`: only those that ask for a special target (hw:cpu_policy, hw:numa_nodes, pci_passthrough:alias, resources:*). */
  readonly flavor?: { readonly vcpus?: number; readonly ramMb?: number; readonly extraSpecs?: Readonly<Record<string, string>> };
  readonly metadata?: Readonly<Record<string, string>>;
  /** Evacuate POSTs attempted (each recorded before it is sent). */
  readonly attempts: number;
  readonly error?: string;
  readonly skipReason?: string;
  /**
   * Why a `skipped` server was left on the dead host: the operator's policy (`[evacuation] states`,
   * `require_metadata`: a choice, not a failure) or the cloud (it cannot be moved: not recovered, the incident is
   * partial). Absent on entries recorded before this field existed: read as `policy`.
   */
  readonly leftBy?: 'policy' | 'cloud';
  /** What the cloud showed when the incident recorded it: its status, its task, the state it lasts in under the task. */
  readonly was?: { readonly status: string; readonly taskState: string | null; readonly lasting: string };
  /** How it is recovered (the compute adapter's table): a reset first, the status it must show after, how it gets there. */
  readonly recovery?: {
    readonly expect: 'ACTIVE' | 'SHUTOFF' | 'PAUSED' | 'SUSPENDED';
    readonly reset?: { readonly why: string };
    readonly restore?: 'stop' | 'pause' | 'suspend';
    readonly caveat?: string;
  };
  /** When the reset that clears a task the dead host will never run was sent (recorded before it is). */
  readonly resetAt?: number;
  /** When the action that puts it back in its state on the new host was sent (recorded before it is). */
  readonly restoreRequestedAt?: number;
  /**
   * The lock on it during the recovery: cmpha's (written before the lock is asked for, lifted when the incident
   * ends) or its owner's (left as it is, and never lifted by cmpha).
   */
  readonly lock?: { readonly by: 'cmpha' | 'owner'; readonly reason: string | null };
  /** Set before every evacuate POST; a crash after it leads to re-reading Nova, never to a blind POST. */
  readonly requestedAt?: number;
  /** The latest evacuate request (there is more than one only when an earlier one provably did not take). */
  readonly lastRequestAt?: number;
  /** The spare an evacuation failed on before the server was left to the scheduler. */
  readonly retargetedFrom?: string;
  /**
   * When it first found no room anywhere (`awaiting_capacity`); its wait is bounded from here. Kept after room
   * appeared, with `roomAt` (when it did) and `noRoom` (why there was none, as last seen).
   */
  readonly awaitingSince?: number;
  readonly roomAt?: number;
  readonly noRoom?: string;
  readonly acceptedAt?: number;
  /** When Nova first showed it ACTIVE on another host (verification of its network comes after). */
  readonly activeAt?: number;
  readonly verifiedAt?: number;
  readonly finishedAt?: number;
  /** From Nova's acceptance of the evacuation to the server running ACTIVE (Nova's migration times when it has them). */
  readonly evacuationMs?: number;
  /** Addresses that answered before the failure (from the detector's evidence); each must answer again. */
  readonly watch?: readonly WatchedAddress[];
  /** The server was hard-rebooted once because its addresses stayed silent (recorded before the request). */
  readonly rebootedAt?: number;
  /** Degraded: which part of the network did not come back. */
  readonly networkIssue?: NetworkIssue;
  /** Downtime as the user saw it: from the last sign of life before the failure ... */
  readonly downFrom?: number;
  /** ... to the first answer of its address on the new host (or, with no address to watch, verification). */
  readonly backAt?: number;
  /** backAt − downFrom. */
  readonly downtimeMs?: number;
}

export interface IncidentRecord {
  readonly rev: number;
  readonly id: string;
  readonly host: string;
  readonly status: IncidentStatus;
  readonly origin: IncidentOrigin;
  readonly failureStartedAt: number;
  /** The host's last sign of life the detector saw (its management IP or an instance address answering), epoch ms. */
  readonly lastAliveAt?: number;
  readonly openedAt: number;
  readonly updatedAt: number;
  readonly closedAt?: number;
  /** What the detector saw, as it reported it. */
  readonly evidence: unknown;
  /** Operator's requested target for a manual evacuation. */
  readonly requestedTarget?: string;
  readonly fence?: {
    readonly driver: string;
    readonly target: string;
    readonly unfenced: boolean;
    readonly alreadyOff: boolean;
    readonly durationMs: number;
    readonly at: number;
    /** The fence level (1-based) that fenced the host, when it has levels. */
    readonly level?: number;
    /** The storage fence applied after a power-off level: a failure there only warned. */
    readonly storage?: { readonly ok: boolean; readonly code?: string; readonly detail: string };
    /** Set when a human confirmed the host off (`cmpha fence confirm`) instead of a BMC reading. */
    readonly confirmedBy?: { readonly user: string; readonly at: number; readonly note: string };
  };
  /**
   * The first sign of life the detector saw from the host after the incident opened (an address answering, Nova's
   * heartbeat moving, on cmpha's own clock): a waiting incident is aborted on it, and `fence confirm` refuses it.
   */
  readonly lifeSeen?: { readonly at: number; readonly what: string };
  /** When a fence attempt last began: a run killed after it may have sent a power-off its timeline lacks. */
  readonly fenceStartedAt?: number;
  readonly serviceId?: string;
  readonly zone?: string;
  /** The policy's tier gates as they were last noted: tier → held (waiting for the tiers before it) or open. */
  readonly gates?: Readonly<Record<string, 'held' | 'open'>>;
  /** Chosen once and recorded, so a retry reuses the same spares. Empty = the scheduler chooses. */
  readonly spares?: readonly SpareAssignment[];
  readonly error?: { readonly code: string; readonly message: string };
  readonly failoverMs?: number;
  /** Notices sent once per incident: an event type, or `type:server id` for a notice about one server. */
  readonly notified: readonly string[];
  readonly ack?: { readonly by: string; readonly at: number };
}

/** The whole incident as `incidents show` prints it. */
export interface Incident extends IncidentRecord {
  readonly instances: readonly InstanceEntry[];
  readonly timeline: readonly TimelineEntry[];
  readonly deliveries: readonly DeliveryRecord[];
}

/** `E`: the evidence's type as the opener's caller knows it (the detector: HostEvidence); stored as opaque JSON. */
export interface OpenIncidentRequest<E = unknown> {
  readonly id: string;
  readonly host: string;
  readonly failureStartedAt: number;
  /** The host's last sign of life, when known: downtimes and "failover took" are counted from it. */
  readonly lastAliveAt?: number;
  readonly evidence: E;
}

/** What the detector needs to know of the incident a host already has. */
export interface ExistingIncident {
  readonly id: string;
  readonly host: string;
  readonly status: IncidentStatus;
  readonly openedAt: number;
}

/**
 * What the detector needs to open incidents and to watch the open ones. `open` is idempotent on `id`.
 */
export interface IncidentOpener<E = unknown> {
  /** Every incident not yet closed (one per host at most): read once a round. */
  openIncidents(): Promise<readonly ExistingIncident[]>;
  /** Every incident opened at or after `at` (epoch ms), whatever its status: the storm brake counts their hosts. */
  openedSince(at: number): Promise<readonly ExistingIncident[]>;
  /** An incident by id (open or closed), null when there is none. */
  incident(id: string): Promise<ExistingIncident | null>;
  open(req: OpenIncidentRequest<E>): Promise<{ created: boolean }>;
  /**
   * The host of an incident showed life (`what` says how): recorded on the incident and its timeline, and an
   * incident that waits for a fence is closed `aborted` with a notice. Says whether it was closed.
   */
  hostShowedLife(id: string, what: string, at: number): Promise<{ aborted: boolean }>;
  /** A line in an incident's timeline from outside its recovery (the detector's word about its host). */
  note(id: string, entry: { readonly level: TimelineEntry['level']; readonly message: string; readonly data?: Readonly<Record<string, unknown>> }): Promise<void>;
}

export interface OpenOptions {
  readonly origin?: IncidentOrigin;
  readonly requestedTarget?: string;
}

export type NewInstance = Omit<InstanceEntry, 'rev' | 'attempts' | 'state'> & { readonly state?: InstanceState };
