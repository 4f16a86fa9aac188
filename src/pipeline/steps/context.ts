import type { EvacuationConfig, FencingConfig } from '../../config/types.js';
import type { StartGate } from '../../evacuator/types.js';
import type { FenceHostOptions } from '../../fencing/fence-host.js';
import type { FenceLevelsFn, FencePlan } from '../../fencing/fence-levels.js';
import type { FenceDriver, FenceResult } from '../../fencing/types.js';
import type { SingleWriterDeps } from '../../fencing/ceph/single-writer.js';
import type { Leadership } from '../../leadership/leadership.js';
import type { IncidentStore } from '../../incidents/incident-store.js';
import type { IncidentRecord, InstanceEntry, TimelineEntry } from '../../incidents/types.js';
import type { NotificationService } from '../../notifier/types.js';
import type { CallOptions, ComputeBackend, ComputeHost, GuestPort } from '../../compute/types.js';
import type { Logger } from '../../shared/logger.js';
import type { Clock } from '../../shared/time.js';
import type { SpareSource } from '../../masakari/segment-policy.js';
import type { RecoveryMetrics } from '../metrics.js';

/** Answers whether a host shows any sign of life (Nova up with a fresh heartbeat, or its management IP). */
export type HostAliveCheck = (host: string, signal?: AbortSignal) => Promise<boolean>;

/**
 * Asks whether addresses answer (fping through the detector's prober in production): 'alive', 'silent' or
 * 'unknown' per address; throws when the probe itself failed.
 */
export type AddressProbe = (ips: readonly string[], signal?: AbortSignal) => Promise<ReadonlyMap<string, 'alive' | 'silent' | 'unknown'>>;

/** Fences one host with one driver: power off and read back off (src/fencing's fenceHost, or a levels-based fencer). */
export type FenceHostFn = (driver: FenceDriver, opts: FenceHostOptions) => Promise<FenceResult>;

/**
 * The one context of a recovery: every step, evacuate and verify included, is a function of it (plus a
 * `ServerInput` for per-server steps). Steps re-read the cloud and the incident record; they keep no state of their own.
 */
export interface StepContext {
  readonly incidentId: string;
  readonly store: IncidentStore;
  /** The cloud, through the compute-backend port (its mutations pass only while this process leads). */
  readonly compute: ComputeBackend;
  readonly evacuation: EvacuationConfig;
  /**
   * Where the spares for a failure of this host come from (its failover segment, read at the time of the
   * recovery); absent = [evacuation] spare_hosts.
   */
  readonly sparesFor?: (host: string) => Promise<SpareSource>;
  /** A moved server's ports must be bound to its new host and ACTIVE; absent = not checked. */
  readonly ports?: (guestId: string, opts?: CallOptions) => Promise<GuestPort[]>;
  /** Addresses that answered before the failure must answer again; absent = not checked. */
  readonly probe?: AddressProbe;
  readonly fencing: FencingConfig;
  readonly notifier: NotificationService;
  readonly isHostAlive: HostAliveCheck;
  /** The fence driver of a host, or null when it has none. */
  readonly fenceDriverFor: (host: string) => FenceDriver | null;
  readonly fenceHost: FenceHostFn;
  /**
   * The host's fence levels (with the storage fence); undefined = the host has none of its own and
   * fenceDriverFor's driver alone fences it, as before levels existed; null = nothing can fence it.
   */
  readonly fencePlanFor?: (host: string) => FencePlan | null | undefined;
  /**
   * Reads the hosts' fence settings from the config as it is now, before a fence (a BMC password fixed while an
   * incident waited counts at once); true when this host's changed. Absent: the settings of the start hold.
   */
  readonly refreshFencing?: (host: string) => Promise<boolean>;
  /** src/fencing's fenceLevels unless a test replaces it. */
  readonly fenceLevels?: FenceLevelsFn;
  /** Where disks are on Ceph: the single-writer proof before the incident closes. */
  readonly singleWriter?: SingleWriterDeps;
  /** Admits evacuate POSTs: the global rate limit plus the per-incident stagger. */
  readonly gate: StartGate;
  /** Checked by the fence guard before every mutation; absent = this process always leads. */
  readonly leadership?: Leadership;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly metrics?: RecoveryMetrics;
  readonly signal?: AbortSignal;
  /**
   * After an evacuate POST whose outcome is unknown (timeout, 5xx, crash), Nova is re-read for this
   * long before concluding the POST did not take and sending another.
   */
  readonly unknownSettleMs?: number;
  /** How many times "Compute service of HOST is still in use." is answered by forcing down again. */
  readonly inUseRetries?: number;
}

export type StepOutcome =
  | { readonly kind: 'done'; readonly detail?: string }
  | { readonly kind: 'skip'; readonly reason: string }
  | { readonly kind: 'abort'; readonly reason: string }
  | { readonly kind: 'fail'; readonly code: string; readonly reason: string };

/** What a per-server step is given besides the context: the server, within the context's incident. */
export interface ServerInput {
  readonly serverId: string;
}

/** A per-server step's outcome: the outcome every step returns, with the server's entry as the step left it. */
export type ServerOutcome = StepOutcome & { readonly entry: InstanceEntry };

/**
 * The outcome an instance entry stands for: done while it moves on or once it is verified, skip when nothing
 * more is to be done for it (deleted, skipped, or not at this step's stage), fail when it ended failed or degraded.
 */
export function serverOutcome(entry: InstanceEntry): ServerOutcome {
  switch (entry.state) {
    case 'verified': return { kind: 'done', detail: `verified on ${entry.target ?? 'its new host'}`, entry };
    case 'evacuated': return { kind: 'done', detail: entry.activeAt !== undefined ? `ACTIVE on ${entry.target ?? 'its new host'}` : 'accepted by the cloud', entry };
    case 'failed': return { kind: 'fail', code: 'evacuation_failed', reason: entry.error ?? 'failed', entry };
    case 'degraded': return { kind: 'fail', code: 'network_degraded', reason: entry.error ?? 'network not back', entry };
    case 'deleted': return { kind: 'skip', reason: 'deleted during the incident', entry };
    case 'skipped': return { kind: 'skip', reason: entry.skipReason ?? 'skipped', entry };
    case 'excluded': return { kind: 'skip', reason: entry.skipReason ?? 'left by policy', entry };
    default: return { kind: 'skip', reason: `left ${entry.state}`, entry };
  }
}

/** Writes one timeline entry and the same line to the log: the timeline is the incident's account of itself. */
export async function note(
  ctx: Pick<StepContext, 'incidentId' | 'store' | 'logger'>,
  step: string,
  level: TimelineEntry['level'],
  message: string,
  extra: { serverId?: string; data?: Record<string, unknown> } = {},
): Promise<void> {
  logNote(ctx, { step, level, message, ...extra });
  await ctx.store.addTimeline(ctx.incidentId, { step, level, message, ...extra });
}

/** The log line of a timeline entry (for an entry the store writes together with something else). */
export function logNote(ctx: Pick<StepContext, 'incidentId' | 'logger'>, e: Pick<TimelineEntry, 'step' | 'level' | 'message' | 'serverId'>): void {
  const log = ctx.logger[e.level === 'info' ? 'info' : e.level === 'warning' ? 'warn' : 'error'].bind(ctx.logger);
  log({ incidentId: ctx.incidentId, step: e.step, ...(e.serverId ? { serverId: e.serverId } : {}) }, e.message);
}

export function record(ctx: Pick<StepContext, 'incidentId' | 'store'>): Promise<IncidentRecord> {
  return ctx.store.require(ctx.incidentId);
}

/** The failed host as the cloud lists it; it must be one the cloud knows. */
export function computeHost(ctx: StepContext, host: string): Promise<ComputeHost> {
  return ctx.compute.host(host, { signal: ctx.signal });
}
