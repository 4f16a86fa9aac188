// Shapes the detector shares with its callers (app, CLI, recovery pipeline). Everything in a verdict's
// evidence is plain JSON so it can be printed by `cmpha check` and stored in the incident record.

import type { IncidentOpener as IncidentOpenerOf, OpenIncidentRequest } from '../incidents/types.js';
import type { NotificationEvent } from '../notifier/types.js';
import type { HeartbeatMemory } from './heartbeat.js';
import type { DisarmView } from './disarm.js';
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

/** What Nova said about the host's nova-compute service, read without comparing Nova's clock with cmpha's. */
export interface NovaEvidence {
  /** `stale`: no heartbeat for one heartbeat period plus margin since the current updated_at was first seen. */
  readonly says: 'up' | 'down' | 'stale' | 'disabled' | 'unread';
  readonly state: 'up' | 'down';
  readonly status: 'enabled' | 'disabled';
  readonly forcedDown: boolean;
  readonly disabledReason: string | null;
  /** ISO time as Nova wrote it; a heartbeat OR an admin change, so only an upper bound on liveness. */
  readonly updatedAt: string | null;
  /** How long (cmpha's monotonic clock) updated_at has not changed, null when it was not read this time. */
  readonly unchangedForMs: number | null;
  /** The heartbeat period used: learned from updated_at's steps while healthy, or `[detector] heartbeat_interval`. */
  readonly heartbeatPeriodMs: number;
  readonly heartbeatLearned: boolean;
  /**
   * Epoch ms (cmpha's clock) when this process last saw updated_at move with no admin change beside it: a heartbeat
   * nova-compute wrote. Null when none was seen (a first read is no move).
   */
  readonly lastBeatAt: number | null;
}

/**
 * `probe-failed`: the probe itself failed this round (fping error, controller isolated), so silence means nothing.
 * `no-address`: no address is known on that network.
 * `not-probed`: disabled hosts are not probed.
 * `crash-kernel`: the address answered, but the host's crash kernel is sending fence_kdump messages (CrashKernelEvidence):
 * the answer is the crash kernel's, not the host's, and counts as silence (judge.ts).
 */
export type MgmtResult = ProbeResult | 'probe-failed' | 'no-address' | 'not-probed' | 'crash-kernel';

/**
 * fence_kdump messages heard lately from one of the host's addresses (within `[kdump] quiet_after`): the host is in its
 * crash kernel, which brings its network up to send them, so its addresses answer ping while its guests are gone.
 */
export interface CrashKernelEvidence {
  /** The address the messages came from. */
  readonly ip: string;
  /** Messages in this run, and when the run began and last sent (epoch ms). */
  readonly count: number;
  readonly firstAt: number;
  readonly lastAt: number;
}

/** The crash kernel sending from any of these addresses now, or null (the fence_kdump listener, where [kdump] is enabled). */
export type CrashKernelLook = (ips: readonly string[]) => CrashKernelEvidence | null;

export type NetworkRole = 'mgmt' | 'storage' | 'tunnel';

export interface NetworkEvidence {
  readonly role: NetworkRole;
  readonly ip: string | null;
  readonly source: 'config' | 'hypervisor' | null;
  readonly result: MgmtResult;
}

export interface MgmtEvidence extends NetworkEvidence {
  /** Epoch ms of the last time any address of the host answered (this process's memory). */
  readonly lastAliveAt: number | null;
}

export interface InstanceAddressEvidence {
  readonly ip: string;
  readonly server: string;
  readonly network: string;
  /** Answered while its host was healthy: only such addresses can testify by silence. */
  readonly baseline: boolean;
  /** When it last answered while its host was healthy (epoch ms); null when never. */
  readonly lastAnsweredAt?: number | null;
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

/**
 * Storage-side evidence from outside the detector (for example Ceph: the host still holds watches on its
 * RBD images). `alive` true keeps the host from `dead` like an answering address; false counts as one more
 * silent independent signal; null means nothing is known.
 */
export interface StorageEvidence {
  readonly alive: boolean | null;
  readonly detail: string;
  /**
   * The host's clients were seen holding watches since it came under suspicion and hold none now: the OSDs heard
   * nothing from any of them for `osd_client_watch_timeout` (30 s; ceph-facts: 25-30 s after the last ping), and
   * dropped them. One part of the watch-lapse proof (judge.ts `lapseProof`); absent when not known.
   */
  readonly lapsed?: boolean;
}

/**
 * The chassis power of a host under suspicion as its BMC last read it (power status only, never a command; see
 * power-witness.ts). Not a signal of life: a BMC answers for a dead host. `off`, read again and again while every
 * address is silent and no heartbeat came, is proof of death that needs no missing heartbeat (judge.ts).
 */
export interface PowerEvidence {
  readonly state: 'on' | 'off' | 'unknown';
  /** What was read, where (never credentials), or why nothing was. */
  readonly detail: string;
  /** cmpha's monotonic ms when the read answered. */
  readonly atMono: number;
  /** Counts the host's answered reads, so the judge counts each read once however often it is shown. */
  readonly seq: number;
}

export interface HostEvidence {
  readonly host: string;
  readonly zone: string | null;
  readonly round: number;
  /** Epoch ms when the observation started. */
  readonly at: number;
  readonly nova: NovaEvidence;
  /** The management network (also in `networks`), kept apart because every host has one. */
  readonly mgmt: MgmtEvidence;
  /** Every network address of the host: management, storage, tunnel. */
  readonly networks: readonly NetworkEvidence[];
  readonly instances: InstanceEvidence;
  readonly storage: StorageEvidence | null;
  /** The BMC's last power read of a host under suspicion, when one is wired and read; absent otherwise. */
  readonly power?: PowerEvidence | null;
  /** fence_kdump messages heard lately from the host's addresses: its addresses' answers are its crash kernel's. */
  readonly crashKernel?: CrashKernelEvidence;
  /**
   * What proved a `dead` verdict: Nova's missing heartbeat; or, with no heartbeat needed, the chassis read off
   * (`power-off`) or two silent networks, silent instances and lapsed Ceph watches (`watch-lapse`).
   */
  readonly deadBy?: DeadBy;
  /** Independent signals that can testify by silence: networks with an address, baseline instances, storage. */
  readonly signals: number;
  /** Epoch ms of the first observation of the current unhealthy streak, null while healthy. */
  readonly suspectSince: number | null;
  /** Consecutive observations the host has been unhealthy. */
  readonly unhealthyRounds: number;
  /** How long every signal has been silent (cmpha's monotonic clock), 0 when something answers. */
  readonly silentForMs: number;
  /** The silence needed before `dead`: min_silence, or single_signal_silence with one signal. */
  readonly silenceNeededMs: number;
  /** Sentences an operator reads, in order of weight. */
  readonly reasons: readonly string[];
  /**
   * Set when everything readable says dead but the host cannot be recovered because Nova's answers about its
   * servers are unreadable (a garbled or oversized server list): hands stay off, and it pages.
   */
  readonly unrecoverable?: string;
}

/** The proofs of death (docs/architecture.md, "Which evidence proves a host dead"). */
export type DeadBy = 'heartbeat' | 'power-off' | 'watch-lapse';

/** What judge remembers about a host between observations. */
export interface HostMemory {
  readonly verdict: Verdict;
  readonly suspectSince: number | null;
  readonly unhealthyRounds: number;
  /** Monotonic ms of the first observation in which every signal was silent, null while something answers. */
  readonly silentSinceMono: number | null;
  /** Monotonic ms since every readable signal says dead while Nova's server list of the host is unreadable. */
  readonly unlistedSinceMono?: number | null;
  /** Epoch ms of the last observation in which any address answered. */
  readonly lastAliveAt: number | null;
  /** Epoch ms of the last observation that saw a heartbeat (NovaEvidence.lastBeatAt). */
  readonly lastBeatAt: number | null;
  readonly heartbeat: HeartbeatMemory;
  /** Consecutive answered BMC reads that said `off` (the last counted is `powerSeq`); any other answer resets it. */
  readonly powerOffReads?: number;
  readonly powerSeq?: number;
  /**
   * The BMC read the chassis off while an address of the host answered: it is wrong about this host, and its
   * `off` proves nothing until it reads `on` again.
   */
  readonly bmcContradicted?: boolean;
  /** Nova's updated_at when the current silence began: a heartbeat written during the silence changes it. */
  readonly silenceBeat?: number | null;
}

export interface HostJudgement {
  readonly verdict: Verdict;
  readonly evidence: HostEvidence;
  readonly memory: HostMemory;
}

/** What the controller did (or, for a standby, dry run or `cmpha check`, would do) about one host. */
export type HostAction =
  | 'none'
  | 'alert'
  | 'wait-confirm'
  | 'open-incident'
  | 'incident-exists'
  | 'incident-already-open'
  /** Dead, and its open incident cannot act on it (it waits for a fence): paged. */
  | 'incident-waiting'
  /** Its incident waited for a fence and the host showed life: the incident was closed aborted. */
  | 'incident-aborted'
  | 'would-open-incident'
  | 'blocked-storm-brake'
  | 'blocked-controller-isolated'
  | 'blocked-standby'
  | 'blocked-detector-blind'
  /** Dead, and HA is disarmed for its host, aggregate, zone or the whole cloud (`cmpha ha disarm`): reported, not recovered. */
  | 'blocked-disarmed'
  /** Dead, and its config opts it out of HA (`[host:NAME] ha = false`): reported, not recovered. */
  | 'blocked-ha-off'
  | 'recheck-alive'
  | 'open-failed';

export interface HostReport {
  readonly host: string;
  readonly zone: string | null;
  readonly verdict: Verdict;
  readonly action: HostAction;
  readonly incidentId?: string;
  /** Why no incident is opened for it whatever it reads (a disarm, `ha = false`), for the report and the page. */
  readonly held?: string;
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
  /** `round`: every host observed; `suspect-check`: only hosts under suspicion re-observed, the rest as last seen. */
  readonly kind: 'round' | 'suspect-check';
  readonly startedAt: number;
  readonly durationMs: number;
  readonly leader: boolean;
  readonly dryRun: boolean;
  readonly isolated: boolean;
  readonly isolationReason: string | null;
  readonly probeFailed: string | null;
  /** Nova's service list was empty or garbled: the detector cannot see the cloud and acts on nothing. */
  readonly blindReason: string | null;
  readonly stormBrake: StormBrakeReport;
  readonly hosts: readonly HostReport[];
  /** The disarms as this round saw them (empty without Redis). */
  readonly disarms?: readonly DisarmView[];
}

/** The incident store's contract (src/incidents), with the detector's evidence. */
export type IncidentOpenRequest = OpenIncidentRequest<HostEvidence>;
export type IncidentOpener = IncidentOpenerOf<HostEvidence>;

/**
 * Restarts nova-compute on an `agent-down` host (src/remediation). The detector hands it the alert instead of
 * sending it; the remediator sends it only if the restart does not bring the heartbeat back.
 */
export interface AgentHealer {
  handles(host: string): boolean;
  start(host: string, mgmtIp: string | null, alert: NotificationEvent): void;
}

export interface Detector {
  runRound(signal?: AbortSignal): Promise<RoundReport>;
  /** Re-observes only the hosts under suspicion (what the loop does every probe_interval); null when there are none. */
  runSuspectCheck(signal?: AbortSignal): Promise<RoundReport | null>;
  /** The updated_at (epoch ms by Nova's clock) the host was last judged on, null when not known. */
  heartbeatSeen(host: string): number | null;
  /** Addresses whose answer proves the host alive: its networks and its baseline instance addresses. */
  liveAddresses(host: string): string[];
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
  readonly haDisarmed?: LabeledGaugeLike;
  readonly haDisarmOverdue?: LabeledGaugeLike;
}
