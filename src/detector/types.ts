// Shapes the detector shares with its callers (app, CLI, recovery pipeline). Everything in a verdict's
// evidence is plain JSON so it can be printed by `cmpha check` and stored in the incident record.

import type { IncidentOpener as IncidentOpenerOf, OpenIncidentRequest } from '../incidents/types.js';
import type { CounterLike, GaugeLike, HistogramLike } from '../shared/metric-shapes.js';

export type ProbeResult = 'alive' | 'silent' | 'unknown';

/** Asks whether addresses answer. Throws (CmphaError code `probe_failed`) when the probe itself failed. */
export interface Prober {
  readonly kind: string;
  probe(ips: readonly string[], signal?: AbortSignal): Promise<Map<string, ProbeResult>>;
}

export type Verdict =
  | 'healthy'
  | 'maintenance'
  | 'suspect'
  | 'unprobeable'
  | 'agent-down'
  | 'isolated-mgmt'
  | 'dead';

export const VERDICTS: readonly Verdict[] = ['healthy', 'maintenance', 'suspect', 'unprobeable', 'agent-down', 'isolated-mgmt', 'dead'];

/** What Nova said about the host's nova-compute service this round. */
export interface NovaEvidence {
  readonly says: 'up' | 'down' | 'stale' | 'disabled';
  readonly state: 'up' | 'down';
  readonly status: 'enabled' | 'disabled';
  readonly forcedDown: boolean;
  readonly disabledReason: string | null;
  /** ISO time; a heartbeat OR an admin change, so only an upper bound on liveness. */
  readonly updatedAt: string | null;
  readonly updatedAgoMs: number | null;
}

/**
 * `probe-failed`: the probe itself failed this round (fping error, controller isolated), so silence means nothing.
 * `no-address`: no management IP is known (no `[host:NAME] mgmt_ip`, no hypervisor host_ip).
 * `not-probed`: disabled hosts are not probed.
 */
export type MgmtResult = ProbeResult | 'probe-failed' | 'no-address' | 'not-probed';

export interface MgmtEvidence {
  readonly ip: string | null;
  readonly source: 'config' | 'hypervisor' | null;
  readonly result: MgmtResult;
  /** Epoch ms of the last round the address answered (this process's memory). */
  readonly lastAliveAt: number | null;
}

export interface InstanceAddressEvidence {
  readonly ip: string;
  readonly server: string;
  readonly network: string;
  /** Answered while its host was healthy: only such addresses can testify by silence. */
  readonly baseline: boolean;
  readonly result: ProbeResult | 'probe-failed';
}

export interface InstanceEvidence {
  /** Whether instance addresses were probed this round (only for hosts under suspicion). */
  readonly checked: boolean;
  readonly note: string;
  readonly addresses: readonly InstanceAddressEvidence[];
  readonly answered: number;
  readonly baselineSilent: number;
  readonly baselineTotal: number;
}

export interface HostEvidence {
  readonly host: string;
  readonly zone: string | null;
  readonly round: number;
  /** Epoch ms when the round started. */
  readonly at: number;
  readonly nova: NovaEvidence;
  readonly mgmt: MgmtEvidence;
  readonly instances: InstanceEvidence;
  /** Epoch ms of the first round of the current unhealthy streak, null while healthy. */
  readonly suspectSince: number | null;
  /** Consecutive rounds the host has been unhealthy. */
  readonly unhealthyRounds: number;
  /** Consecutive rounds in which every signal said dead; `dead` at `confirmRounds`. */
  readonly deadRounds: number;
  readonly confirmRounds: number;
  /** Sentences an operator reads, in order of weight. */
  readonly reasons: readonly string[];
}

/** What classify remembers about a host between rounds. */
export interface HostState {
  readonly verdict: Verdict;
  readonly suspectSince: number | null;
  readonly unhealthyRounds: number;
  readonly deadRounds: number;
  readonly mgmtLastAliveAt: number | null;
}

export interface HostClassification {
  readonly verdict: Verdict;
  readonly evidence: HostEvidence;
  readonly state: HostState;
}

/** What the controller did (or, for a standby, dry run or `cmpha check`, would do) about one host. */
export type HostAction =
  | 'none'
  | 'alert'
  | 'wait-confirm'
  | 'open-incident'
  | 'incident-exists'
  | 'incident-already-open'
  | 'would-open-incident'
  | 'blocked-storm-brake'
  | 'blocked-controller-isolated'
  | 'blocked-standby'
  | 'open-failed';

export interface HostReport {
  readonly host: string;
  readonly zone: string | null;
  readonly verdict: Verdict;
  readonly action: HostAction;
  readonly incidentId?: string;
  readonly evidence: HostEvidence;
}

export interface StormBrakeReport {
  readonly active: boolean;
  readonly reason: string | null;
  readonly since: number | null;
  /** An operator ran `cmpha resume` for the hosts counted now. */
  readonly overridden: boolean;
  readonly count: number;
}

export interface RoundReport {
  readonly round: number;
  readonly startedAt: number;
  readonly durationMs: number;
  readonly leader: boolean;
  readonly dryRun: boolean;
  readonly isolated: boolean;
  readonly isolationReason: string | null;
  readonly probeFailed: string | null;
  readonly stormBrake: StormBrakeReport;
  readonly hosts: readonly HostReport[];
}

/** The incident store's contract (src/incidents), with the detector's evidence. */
export type IncidentOpenRequest = OpenIncidentRequest<HostEvidence>;
export type IncidentOpener = IncidentOpenerOf<HostEvidence>;

export interface Detector {
  runRound(signal?: AbortSignal): Promise<RoundReport>;
  /** Runs rounds every interval; a slow round delays the next, rounds never overlap. */
  start(): void;
  /** Stops the loop, waits for a running round and gives up the leader lease. */
  stop(): Promise<void>;
}

// A narrow view of the prom-client metrics the detector writes (src/shared/metric-shapes.ts), so it does not
// depend on how they are built.
interface LabeledGaugeLike extends GaugeLike {
  reset(): void;
}

export interface DetectorMetrics {
  readonly detectorRounds: CounterLike;
  readonly detectorRoundDuration: HistogramLike;
  readonly detectorLastRoundTimestamp: GaugeLike;
  readonly hostsByVerdict: LabeledGaugeLike;
  readonly leader: GaugeLike;
  readonly stormBrakeActive: GaugeLike;
  readonly controllerIsolated: GaugeLike;
  readonly agentDownHosts: GaugeLike;
}
