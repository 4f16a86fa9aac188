import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client';

// Every label here has a small, fixed set of values. Host names, server ids and incident ids never become
// labels: a cloud with thousands of hosts would turn each into thousands of series, and alerts only need
// counts. Logs and incident records carry the names.

export const INCIDENT_OUTCOMES = ['resolved', 'partial', 'failed', 'aborted'] as const;
export type IncidentOutcome = (typeof INCIDENT_OUTCOMES)[number];

export const EVACUATION_RESULTS = ['ok', 'degraded', 'failed', 'skipped'] as const;
export const REMEDIATION_RESULTS = ['healed', 'failed'] as const;
export type EvacuationResult = (typeof EVACUATION_RESULTS)[number];

export const NOTIFICATION_RESULTS = ['sent', 'failed'] as const;
export type NotificationResult = (typeof NOTIFICATION_RESULTS)[number];

export const READINESS_CHECKS = ['redis', 'nova', 'detector'] as const;

export const JOB_QUEUES = ['incident', 'evacuate', 'network', 'finalize'] as const;

export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

/** Seconds; detector rounds are expected to take well under the interval (default 10 s). */
const ROUND_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60];
/** Seconds; a BMC answers in under a second, a power-off that waits for read-back can take a minute or two. */
const FENCE_BUCKETS = [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300];
/** Seconds per instance: Nova evacuation on shared storage is a rebuild, typically 10 s to a few minutes. */
const EVACUATION_BUCKETS = [5, 10, 20, 30, 60, 120, 180, 300, 600, 900];
/** Seconds from detection to the last instance verified; the user-facing recovery time, up to ~30 min. */
/** Users feel seconds: finer at the low end than the failover buckets. */
const DOWNTIME_BUCKETS = [5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200, 1800];
const FAILOVER_BUCKETS = [30, 60, 90, 120, 180, 240, 300, 450, 600, 900, 1200, 1800];

export interface Metrics {
  readonly registry: Registry;
  readonly detectorRounds: Counter;
  readonly detectorRoundDuration: Histogram;
  /** Unix time in seconds of the last finished round: `set(Date.now() / 1000)`. */
  readonly detectorLastRoundTimestamp: Gauge;
  /** Hosts per verdict and availability zone, as of the last round; replace with `setHostsByVerdict`. */
  readonly hostsByVerdict: Gauge<'verdict' | 'zone'>;
  /** 1 while this replica holds the leader lease, else 0. */
  readonly leader: Gauge;
  /** 1 while the readiness report says ready, else 0; the app sets it whenever it computes readiness. */
  readonly ready: Gauge;
  /** Each readiness check (redis, nova, detector), 1/0, as of the last evaluation. */
  readonly readinessCheck: Gauge<'check'>;
  readonly incidentsOpened: Counter;
  readonly incidentsClosed: Counter<'outcome'>;
  readonly incidentsOpen: Gauge;
  /** Servers of open incidents that fit on no host and wait for room (`awaiting_capacity`). */
  readonly instancesAwaitingCapacity: Gauge;
  readonly fenceAttempts: Counter<'driver'>;
  /** `code` is a CmphaError code, a small fixed set. */
  readonly fenceFailures: Counter<'driver' | 'code'>;
  readonly fenceDuration: Histogram<'driver'>;
  readonly doubleWriters: Counter;
  /** Datagrams the fence_kdump listener judged: valid, invalid, unknown_sender. */
  readonly kdumpDatagrams: Counter<'result'>;
  readonly evacuations: Counter<'result'>;
  readonly evacuationDuration: Histogram;
  readonly failoverDuration: Histogram;
  readonly instanceDowntime: Histogram;
  readonly notifications: Counter<'channel' | 'result'>;
  readonly stormBrakeActive: Gauge;
  /** One series per disarm (`cmpha ha disarm`): 1, labelled with its scope and whether it is in effect or pending. */
  readonly haDisarmed: Gauge<'scope' | 'state'>;
  /** One series per disarm: 1 when it is past its --until or older than [detector] disarm_limit, else 0. */
  readonly haDisarmOverdue: Gauge<'scope'>;
  readonly controllerIsolated: Gauge;
  readonly queueDepth: Gauge<'state'>;
  readonly jobsFailed: Counter<'queue'>;
  readonly hostsWithoutFencing: Gauge;
  readonly agentDownHosts: Gauge;
  readonly agentRemediations: Counter<'result'>;
  readonly buildInfo: Gauge<'version'>;
  /** The most recent failover this replica ran: duration, when, and (one series) which host. */
  readonly lastFailover: LastFailoverRecorder;
}

export interface LastFailover {
  readonly host: string;
  readonly outcome: IncidentOutcome;
  readonly durationSeconds: number;
  /** Unix time in seconds when the last instance was verified. */
  readonly at: number;
}

export interface LastFailoverRecorder {
  record(f: LastFailover): void;
}

export interface CreateMetricsOptions {
  /** Shown as the `version` label of `cmpha_build_info`. */
  readonly version?: string;
}

// The last failover as three gauges, for "last failover" stat panels: a histogram over rare failovers gives
// NaN most of the time. The info gauge carries the host name on exactly one series (reset each time), so
// it adds no cardinality.
function lastFailoverRecorder(registers: Registry[]): LastFailoverRecorder {
  const lastDuration = new Gauge({
    name: 'cmpha_last_failover_duration_seconds', help: 'Duration of the most recent failover (detection to last instance verified).', registers,
  });
  const lastAt = new Gauge({
    name: 'cmpha_last_failover_timestamp_seconds', help: 'Unix time when the most recent failover finished.', registers,
  });
  const lastInfo = new Gauge({
    name: 'cmpha_last_failover_info', help: 'Always 1, one series: the host and outcome of the most recent failover.',
    labelNames: ['host', 'outcome'] as const, registers,
  });
  return {
    record(f) {
      lastDuration.set(f.durationSeconds);
      lastAt.set(f.at);
      lastInfo.reset();
      lastInfo.set({ host: f.host, outcome: f.outcome }, 1);
    },
  };
}

/** The detector: its rounds, the hosts by verdict, the leader lease. */
function detectorFamilies(registers: Registry[]): Pick<Metrics, 'detectorRounds' | 'detectorRoundDuration' | 'detectorLastRoundTimestamp' | 'hostsByVerdict' | 'leader'> {
  return {
    detectorRounds: new Counter({
      name: 'cmpha_detector_rounds_total', help: 'Detector rounds completed.', registers,
    }),
    detectorRoundDuration: new Histogram({
      name: 'cmpha_detector_round_duration_seconds', help: 'Time one detector round took.',
      buckets: ROUND_BUCKETS, registers,
    }),
    detectorLastRoundTimestamp: new Gauge({
      name: 'cmpha_detector_last_round_timestamp_seconds',
      help: 'Unix time when the last detector round finished.', registers,
    }),
    hostsByVerdict: new Gauge({
      name: 'cmpha_hosts', help: 'Compute hosts by detector verdict and availability zone, as of the last round.',
      labelNames: ['verdict', 'zone'] as const, registers,
    }),
    leader: new Gauge({
      name: 'cmpha_leader', help: '1 while this replica holds the leader lease and acts, 0 on standby.', registers,
    }),
  };
}

/** Readiness, overall and per check. */
function readinessFamilies(registers: Registry[]): Pick<Metrics, 'ready' | 'readinessCheck'> {
  return {
    ready: new Gauge({
      name: 'cmpha_ready', help: '1 when the last readiness check passed (Redis, Nova, detector), else 0.', registers,
    }),
    readinessCheck: new Gauge({
      name: 'cmpha_readiness_check', help: 'Each readiness check (redis, nova, detector): 1 when it passed at the last evaluation, else 0.',
      labelNames: ['check'] as const, registers,
    }),
  };
}

/** Host failure incidents. */
function incidentFamilies(registers: Registry[]): Pick<Metrics, 'incidentsOpened' | 'incidentsClosed' | 'incidentsOpen' | 'instancesAwaitingCapacity'> {
  return {
    incidentsOpened: new Counter({
      name: 'cmpha_incidents_opened_total', help: 'Host failure incidents opened.', registers,
    }),
    incidentsClosed: new Counter({
      name: 'cmpha_incidents_closed_total', help: 'Host failure incidents closed, by outcome.',
      labelNames: ['outcome'] as const, registers,
    }),
    incidentsOpen: new Gauge({
      name: 'cmpha_incidents_open', help: 'Host failure incidents currently open.', registers,
    }),
    instancesAwaitingCapacity: new Gauge({
      name: 'cmpha_instances_awaiting_capacity', help: 'Servers of open incidents that fit on no host and wait for room (awaiting_capacity).', registers,
    }),
  };
}

/** Fencing, and the single-writer check it protects. */
function fencingFamilies(registers: Registry[]): Pick<Metrics, 'fenceAttempts' | 'fenceFailures' | 'fenceDuration' | 'doubleWriters' | 'kdumpDatagrams'> {
  return {
    fenceAttempts: new Counter({
      name: 'cmpha_fence_attempts_total', help: 'Fencing (power-off) attempts, by driver.',
      labelNames: ['driver'] as const, registers,
    }),
    fenceFailures: new Counter({
      name: 'cmpha_fence_failures_total', help: 'Fencing attempts that did not read back power off, by driver and error code.',
      labelNames: ['driver', 'code'] as const, registers,
    }),
    fenceDuration: new Histogram({
      name: 'cmpha_fence_duration_seconds', help: 'Time from power-off request to power read back off.',
      labelNames: ['driver'] as const, buckets: FENCE_BUCKETS, registers,
    }),
    doubleWriters: new Counter({
      name: 'cmpha_double_writer_total', help: 'Recovered servers whose Ceph disk had more than one writer, or a writer on a host Nova does not place them on.',
      registers,
    }),
    kdumpDatagrams: new Counter({
      name: 'cmpha_kdump_datagrams_total', help: 'UDP datagrams on the fence_kdump port, by verdict: valid (a host\'s crash kernel), invalid (not a fence_kdump message: ignored), unknown_sender (from no configured host\'s address).',
      labelNames: ['result'] as const, registers,
    }),
  };
}

/** Evacuations and how long users waited. */
function recoveryFamilies(registers: Registry[]): Pick<Metrics, 'evacuations' | 'evacuationDuration' | 'failoverDuration' | 'instanceDowntime'> {
  return {
    evacuations: new Counter({
      name: 'cmpha_evacuations_total', help: 'Instance evacuations, by result.',
      labelNames: ['result'] as const, registers,
    }),
    evacuationDuration: new Histogram({
      name: 'cmpha_evacuation_duration_seconds', help: 'Time to evacuate and verify one instance.',
      buckets: EVACUATION_BUCKETS, registers,
    }),
    failoverDuration: new Histogram({
      name: 'cmpha_failover_duration_seconds', help: 'Time from host failure detection to its last instance verified.',
      buckets: FAILOVER_BUCKETS, registers,
    }),
    instanceDowntime: new Histogram({
      name: 'cmpha_instance_downtime_seconds',
      help: 'Per evacuated instance: from its last sign of life before the failure to its first answer on the new host.',
      buckets: DOWNTIME_BUCKETS, registers,
    }),
  };
}

/** Notifications sent. */
function notificationFamilies(registers: Registry[]): Pick<Metrics, 'notifications'> {
  return {
    notifications: new Counter({
      name: 'cmpha_notifications_total', help: 'Notifications, by notifier channel and result.',
      labelNames: ['channel', 'result'] as const, registers,
    }),
  };
}

/** The guards that stop cmpha from acting: storm brake, isolation. */
function safetyFamilies(registers: Registry[]): Pick<Metrics, 'stormBrakeActive' | 'controllerIsolated' | 'haDisarmed' | 'haDisarmOverdue'> {
  return {
    haDisarmed: new Gauge({
      name: 'cmpha_ha_disarmed', help: '1 per scope disarmed with cmpha ha disarm (scope = all, host:NAME, zone:NAME or aggregate:NAME; state = in-effect, or pending while an incident in its scope runs).',
      labelNames: ['scope', 'state'] as const, registers,
    }),
    haDisarmOverdue: new Gauge({
      name: 'cmpha_ha_disarm_overdue', help: '1 for a disarm past its --until or older than [detector] disarm_limit, 0 for one that is not; no series while nothing is disarmed.',
      labelNames: ['scope'] as const, registers,
    }),
    stormBrakeActive: new Gauge({
      name: 'cmpha_storm_brake_active', help: '1 while the storm brake holds back all incidents, else 0.', registers,
    }),
    controllerIsolated: new Gauge({
      name: 'cmpha_controller_isolated', help: '1 while this controller cannot reach its isolation addresses or Nova, else 0.', registers,
    }),
  };
}

/** The recovery job queues. */
function queueFamilies(registers: Registry[]): Pick<Metrics, 'queueDepth' | 'jobsFailed'> {
  return {
    queueDepth: new Gauge({
      name: 'cmpha_queue_jobs', help: 'Recovery jobs in the queue, by state.',
      labelNames: ['state'] as const, registers,
    }),
    jobsFailed: new Counter({
      name: 'cmpha_jobs_failed_total', help: 'Recovery jobs that failed after their last attempt, by queue.',
      labelNames: ['queue'] as const, registers,
    }),
  };
}

/** Host setup and agent health: fencing coverage, agent-down hosts, their remediation. */
function hostHealthFamilies(registers: Registry[]): Pick<Metrics, 'hostsWithoutFencing' | 'agentDownHosts' | 'agentRemediations'> {
  return {
    hostsWithoutFencing: new Gauge({
      name: 'cmpha_hosts_without_fencing', help: 'Compute hosts with no usable fencing configured (from doctor).', registers,
    }),
    agentDownHosts: new Gauge({
      name: 'cmpha_agent_down_hosts', help: 'Hosts that answer ping but whose nova-compute agent is down.', registers,
    }),
    agentRemediations: new Counter({
      name: 'cmpha_agent_remediations_total', help: 'Remediation commands run for agent-down hosts, by result (healed = the heartbeat came back).',
      labelNames: ['result'] as const, registers,
    }),
  };
}

/** Which cmpha runs. */
function buildFamilies(registers: Registry[]): Pick<Metrics, 'buildInfo'> {
  return {
    buildInfo: new Gauge({
      name: 'cmpha_build_info', help: 'Always 1; the version label says which cmpha runs.',
      labelNames: ['version'] as const, registers,
    }),
  };
}

// Series with known label values exist from the start at 0, so `increase()` sees the first event and
// alert expressions never depend on a series appearing.
function initKnownSeries(m: Metrics, version: string): void {
  for (const outcome of INCIDENT_OUTCOMES) m.incidentsClosed.inc({ outcome }, 0);
  for (const result of EVACUATION_RESULTS) m.evacuations.inc({ result }, 0);
  for (const state of QUEUE_STATES) m.queueDepth.set({ state }, 0);
  for (const queue of JOB_QUEUES) m.jobsFailed.inc({ queue }, 0);
  for (const check of READINESS_CHECKS) m.readinessCheck.set({ check }, 0);
  for (const result of REMEDIATION_RESULTS) m.agentRemediations.inc({ result }, 0);
  for (const g of [m.leader, m.ready, m.incidentsOpen, m.instancesAwaitingCapacity, m.stormBrakeActive, m.controllerIsolated,
    m.hostsWithoutFencing, m.agentDownHosts]) g.set(0);
  m.buildInfo.set({ version }, 1);
}

/**
 * Registers every cmpha metric on `registry` (never prom-client's global one, so tests and several
 * controllers in one process do not collide) and returns typed handles, plus prom-client's `process_*`
 * collectors (CPU, resident memory, open fds, start time: restarts and memory growth). Its `nodejs_*`
 * metrics are left out: several are gauges named `_total`, which `promtool check metrics` rejects.
 */
export function createMetrics(registry: Registry = new Registry(), opts: CreateMetricsOptions = {}): Metrics {
  const registers = [registry];
  // Registered before the other families, as it always was, so /metrics lists them in the same order.
  const lastFailover = lastFailoverRecorder(registers);
  const m: Metrics = {
    registry,
    ...detectorFamilies(registers),
    ...readinessFamilies(registers),
    ...incidentFamilies(registers),
    ...fencingFamilies(registers),
    ...recoveryFamilies(registers),
    ...notificationFamilies(registers),
    ...safetyFamilies(registers),
    ...queueFamilies(registers),
    ...hostHealthFamilies(registers),
    ...buildFamilies(registers),
    lastFailover,
  };
  initKnownSeries(m, opts.version ?? 'unknown');
  registerProcessMetrics(registry);
  return m;
}

/** Moves prom-client's default `process_*` collectors onto `registry`; the rest stay on a registry never scraped. */
function registerProcessMetrics(registry: Registry): void {
  const scratch = new Registry();
  collectDefaultMetrics({ register: scratch });
  for (const metric of scratch.getMetricsAsArray()) {
    const { name } = metric as unknown as { name: string };
    if (name.startsWith('process_')) registry.registerMetric(metric as unknown as Metric);
  }
}

/** Call once a driver is configured so its failure series exists before the first failure. */
export function initFenceDriver(m: Metrics, driver: string): void {
  m.fenceAttempts.inc({ driver }, 0);
}

/** Call once per configured notifier so both result series exist before the first message. */
export function initNotificationChannel(m: Metrics, channel: string): void {
  for (const result of NOTIFICATION_RESULTS) m.notifications.inc({ channel, result }, 0);
}

export interface VerdictCount {
  readonly verdict: string;
  readonly zone: string;
  readonly count: number;
}

/**
 * Replaces the whole host-verdict table, so a verdict or zone that disappeared drops to no series rather
 * than keeping its last count forever.
 */
export function setHostsByVerdict(m: Metrics, rows: Iterable<VerdictCount>): void {
  m.hostsByVerdict.reset();
  for (const r of rows) m.hostsByVerdict.inc({ verdict: r.verdict, zone: r.zone }, r.count);
}
