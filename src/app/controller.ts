import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import type { Config } from '../config/types.js';
import { createDetector, createProber } from '../detector/index.js';
import type { Detector, Prober, RoundReport } from '../detector/types.js';
import { checkFpingPermission } from '../detector/fping-prober.js';
import { createStorageFence } from '../fencing/fence-plan.js';
import { followLeadership } from '../leadership/follow.js';
import type { LeaderLease } from '../leadership/lease.js';
import { createMetrics, initFenceDriver, initNotificationChannel, type Metrics } from '../metrics/metrics.js';
import { startMetricsServer, type MetricsServer, type ReadinessReport } from '../metrics/http-server.js';
import { trackReadiness } from '../metrics/track-readiness.js';
import type { CmphaNotificationService } from '../notifier/service.js';
import type { DeliveryRecord, NotificationService } from '../notifier/types.js';
import { confirmFence, startOrphanReconciler, type QueueTuning } from '../pipeline/index.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { watchFenceSettings } from './fence-retry-watch.js';
import { returnSettingsOf, watchHostReturns } from './host-return-watch.js';
import { storageUnfence } from '../cli/commands/host.js';
import { composeRecovery, connect, createNotifier, type DetectorView, type Foundation, type RecoveryWorker } from './root.js';
import { cephStorageSignal } from './storage-signal.js';
import { powerWitnessFromConfig } from './fence-parts.js';
import { systemClock } from '../shared/time.js';
import { startApiServer, type ApiServer, type ProbeRequests } from '../api/index.js';
import { version } from '../cli/version.js';
import { withResolvedBmcs, type BmcLookup } from '../fencing/resolve-bmc.js';
import { createAgentRemediator, type AgentRemediator } from '../remediation/agent-remediator.js';
import { countUnfenceable, watchBmcs } from './bmc-watch.js';
import { readinessOf, type RoundState } from './readiness.js';
import { startMasakariIntake } from './masakari-parts.js';
import { enqueue } from '../masakari/intake.js';

/** The orphaned-recovery check runs every detector interval, but not more often than this: it lists every service. */
const ORPHAN_CHECK_MIN_MS = 5000;

export interface ControllerOptions {
  readonly logger: Logger;
  /** Leader lease owner id (default host/pid/random: a restart on the same host is told from a live process by its pid). */
  readonly owner?: string;
  readonly queue?: QueueTuning;
  /** Serve /metrics even when [metrics] enabled = false (tests pass false to skip the listener). */
  readonly metrics?: boolean;
  /** Replaces [metrics] listen (the demo uses port 0). */
  readonly metricsListen?: { host: string; port: number };
  readonly onRound?: (report: RoundReport | null, error?: unknown) => void;
  /** Replaces the prober built from [detector] (tests). */
  readonly prober?: Prober;
  /** Resolves BMC names (tests inject one; the default asks the system resolver). */
  readonly bmcLookup?: BmcLookup;
  /** Replaces [api] listen (tests use port 0). */
  readonly apiListen?: { host: string; port: number };
  /** How often Nova is searched for recoveries whose incident record was lost (default: the detector interval, at least 5 s). */
  readonly orphanCheckMs?: number;
  /**
   * Reads the config file again (`cmpha run` gives its files): every fence reads the hosts' fence settings as the
   * file says then, and an incident waiting for a fence is retried when its host's settings change.
   */
  readonly rereadConfig?: () => Promise<Config>;
  /** How often the leader looks for changed fence settings (default 10 s). */
  readonly fenceSettingsCheckMs?: number;
}

export interface Controller {
  readonly recovery: RecoveryWorker;
  readonly notifier: NotificationService;
  readonly metrics: Metrics;
  readonly metricsServer: MetricsServer | null;
  readonly apiServer: ApiServer | null;
  readonly lastRound: () => RoundReport | null;
  /** The leader lease this controller takes and renews; its epoch is the fencing token. */
  readonly lease: LeaderLease;
  /** True while Redis is unreachable (then stopping has nothing to hand over and need not wait). */
  readonly redisDown: () => boolean;
  stop(): Promise<void>;
}

/** BMC names resolved once, now: from here on every fence is given an IP literal. */
function resolveBmcNames(validated: Config, logger: Logger, lookup: BmcLookup | undefined): Promise<Config> {
  return withResolvedBmcs(validated, {
    resolved: (host, bmc, address) => logger.info({ host, bmc, address }, 'BMC name resolved'),
    problem: (host, bmc, message) => logger.error({ host, bmc }, message),
  }, lookup);
}

/** /metrics, /healthz and /readyz. `readiness` is asked per request, so it may be set once the parts it reads exist. */
function startMetricsEndpoint(config: Config, opts: ControllerOptions, registry: Registry, readiness: () => Promise<ReadinessReport>): Promise<MetricsServer | null> {
  if (opts.metrics === false || !config.metrics.enabled) return Promise.resolve(null);
  return startMetricsServer({ listen: opts.metricsListen ?? config.metrics.listen, registry, readiness, logger: opts.logger });
}

interface Notifiers {
  /** Owns the delivery queue and its timers (stopped last but one). */
  readonly base: CmphaNotificationService;
  /** The one every part uses: deliveries counted in cmpha_notifications_total. */
  readonly counted: NotificationService;
}

function buildNotifiers(config: Config, foundation: Foundation, metrics: Metrics, logger: Logger): Notifiers {
  const countDeliveries = (records: readonly DeliveryRecord[]) => {
    for (const r of records) if (!r.skipped) metrics.notifications.inc({ channel: r.channel, result: r.ok ? 'sent' : 'failed' });
  };
  const base = createNotifier(config, foundation, logger, countDeliveries);
  for (const n of base.channelNames()) initNotificationChannel(metrics, n);
  const counted: NotificationService = {
    async notify(event) {
      const records = await base.notify(event);
      countDeliveries(records);
      return records;
    },
  };
  return { base, counted };
}

/** Every configured driver's series from the start; the drivers themselves (each with its HTTP agent and logger) are built when a host is fenced or checked, not for all 5,000 hosts of a large cloud at once. */
function initFenceMetrics(config: Config, metrics: Metrics): void {
  for (const kind of new Set(Object.values(config.hosts).map((h) => h.fence.driver))) if (kind !== 'none') initFenceDriver(metrics, kind);
}

/** The outcome of the detector's latest round, for readiness, the API, the fencing gauge and the orphan check. */
class RoundLog implements RoundState {
  last: RoundReport | null = null;
  lastError: string | null = null;

  record(report: RoundReport | null, error?: unknown): void {
    if (report) {
      this.last = report;
      this.lastError = null;
    } else {
      this.lastError = errorMessage(error);
    }
  }
}

/**
 * A Masakari notification asks for a probe now: one extra round (rounds never overlap; requests made while
 * one is pending join it). The verdict is still the detector's, by its own signals and rules.
 */
class ExtraRounds implements ProbeRequests {
  private pending: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly detector: Detector,
    private readonly onRound: (report: RoundReport | null, error?: unknown) => void,
    private readonly logger: Logger,
  ) {}

  requestProbe(host: string, reason: string): void {
    this.logger.info({ host, reason }, 'probe requested now');
    if (this.pending || this.stopped) return;
    this.pending = this.detector.runRound().then((r) => this.onRound(r), (err: unknown) => { if (!this.stopped) this.onRound(null, err); })
      .finally(() => { this.pending = null; });
  }

  /** Starts no further extra round; the promise settles when the one running (if any) has. */
  stop(): Promise<void> {
    this.stopped = true;
    return this.pending ?? Promise.resolve();
  }
}

/** An fping that may not send ICMP is named at start (with the fix), instead of surfacing as every host silent. */
async function reportFpingPermission(config: Config, opts: ControllerOptions, prober: Prober): Promise<void> {
  if (config.detector.probe !== 'fping' || opts.prober) return;
  const denied = await checkFpingPermission(prober);
  if (denied) opts.logger.error({ err: denied.message, code: denied.code }, denied.code === 'probe_not_permitted' ? 'fping may not send ICMP' : 'fping does not work');
}

function startApi(config: Config, opts: ControllerOptions, connection: Redis, recovery: RecoveryWorker, rounds: RoundState, probe: ProbeRequests): Promise<ApiServer | null> {
  if (!config.api.enabled) return Promise.resolve(null);
  const logger = opts.logger;
  return startApiServer({
    config: { ...config.api, ...(opts.apiListen ? { listen: opts.apiListen } : {}) },
    redis: connection, prefix: config.redis.prefix, lastRound: () => rounds.last, hosts: config.hosts, probe, logger, disarmLimitMs: config.detector.disarmLimitMs,
    segments: config.segments ?? [], spareHosts: config.evacuation.spareHosts,
    masakari: { submit: (uuid) => enqueue(connection, config.redis.prefix, uuid) },
    fence: {
      async confirm(host, who) {
        const rec = await confirmFence({ store: recovery.incidents, notifier: recovery.notifier, logger, clock: systemClock }, host, who);
        await recovery.submit(rec.id);
        return rec;
      },
    },
  });
}

/** Recoveries whose record Redis lost: found again from Nova's state, by the leader only, on their own timer. */
function startOrphanCheck(config: Config, opts: ControllerOptions, foundation: Foundation, recovery: RecoveryWorker, notifier: NotificationService, rounds: RoundState): { stop(): Promise<void> } {
  const { compute, lease } = foundation;
  return startOrphanReconciler({
    compute, incidents: recovery.incidents, open: (req) => recovery.opener.create(req), notifier,
    logger: opts.logger.child({ component: 'reconcile' }), clock: systemClock, everyMs: opts.orphanCheckMs ?? Math.max(config.detector.intervalMs, ORPHAN_CHECK_MIN_MS),
    isLeader: () => !config.detector.dryRun && lease.isLeader && rounds.last?.leader === true && !rounds.last.isolated,
  });
}

/** Everything a running controller holds, let go of in the order below. */
interface RunningParts {
  readonly foundation: Foundation;
  readonly apiServer: ApiServer | null;
  readonly timers: readonly { stop(): void }[];
  readonly extraRounds: ExtraRounds;
  readonly orphans: { stop(): Promise<void> };
  readonly detector: Detector;
  readonly leadership: { settled: () => Promise<void> };
  readonly healer: AgentRemediator;
  readonly masakari: { stop(): Promise<void> };
  readonly recovery: RecoveryWorker;
  readonly notifiers: Notifiers;
  readonly metricsServer: MetricsServer | null;
}

async function stopController(p: RunningParts): Promise<void> {
  const extraRound = p.extraRounds.stop();
  await p.apiServer?.close();
  for (const t of p.timers) t.stop();
  await extraRound;
  // With Redis away there is nothing to hand over: fail every command waiting for it instead of waiting.
  if (p.foundation.outage.down) p.foundation.connection.disconnect();
  await p.orphans.stop();
  await p.detector.stop();
  await p.leadership.settled();
  await p.masakari.stop();
  await p.healer.stop();
  await p.recovery.stop();
  await p.notifiers.base.stop();
  await p.metricsServer?.close();
  p.foundation.connection.disconnect();
}

/**
 * The composition root of `cmpha run`: one Redis connection, one OpenStack client, the notifier, the
 * recovery workers, the detector loop and the metrics endpoint, built from the validated config. Nothing
 * here decides anything; it only wires the parts together.
 */
export async function startController(validated: Config, opts: ControllerOptions): Promise<Controller> {
  const logger = opts.logger;
  const config = await resolveBmcNames(validated, logger, opts.bmcLookup);
  const registry = new Registry();
  const metrics = createMetrics(registry, { version: version() });

  // The metrics port first: a port that is taken ends the start before anything holds the process open.
  let readiness: () => Promise<ReadinessReport> = () => Promise.reject(new Error('starting'));
  const metricsServer = await startMetricsEndpoint(config, opts, registry, () => readiness());

  const foundation = connect(config, opts);
  const { connection, lease, compute, cloud: { volumes } } = foundation;
  const notifiers = buildNotifiers(config, foundation, metrics, logger);
  const notifier = notifiers.counted;
  initFenceMetrics(config, metrics);
  const prober = opts.prober ?? createProber(config.detector, { logger });
  const detectorView: DetectorView = { current: null };
  // Only the leader's workers take jobs (they start when this process leads), and every action they take re-checks the lease's epoch first.
  const recovery = composeRecovery(config, {
    logger, foundation, notifier, metrics, detector: detectorView, onFenceDriver: (driver) => initFenceDriver(metrics, driver.kind),
    onKdumpDatagram: (result) => metrics.kdumpDatagrams.inc({ result }),
    ...(opts.rereadConfig ? { rereadConfig: async () => resolveBmcNames(await opts.rereadConfig!(), logger, opts.bmcLookup) } : {}),
    ...(opts.queue ? { queue: opts.queue } : {}), ...(opts.prober ? { prober: opts.prober } : {}),
  });

  // Leader only: the detector hands it agent-down hosts from its act step, which runs its alerts on the leader.
  const healer = createAgentRemediator({
    config, heartbeats: compute, notifier, logger, onResult: (r) => metrics.agentRemediations.inc({ result: r.ok ? 'healed' : 'failed' }),
  });
  const leadership = followLeadership(lease, recovery, logger);
  // Hosts whose BMC does not answer (read-only status checks) count as unfenceable in the gauge.
  const bmcs = watchBmcs(config, logger);

  const rounds = new RoundLog();
  const onRound = (report: RoundReport | null, error?: unknown): void => {
    rounds.record(report, error);
    if (report) metrics.hostsWithoutFencing.set(countUnfenceable(report, config.hosts, bmcs.broken()));
    opts.onRound?.(report, error);
  };
  // The BMCs of hosts under suspicion, read-only: a chassis read off spares the wait for Nova's heartbeat.
  const witness = config.detector.bmcPowerRead === true ? powerWitnessFromConfig(config, logger) : null;
  const detector: Detector = createDetector({
    config, compute, prober, redis: connection, lease, incidents: recovery.opener, notifier, healer, metrics, logger,
    ...(witness ? { powerLook: (hosts: readonly string[]) => witness.look(hosts) } : {}),
    // A host whose crash kernel sends fence_kdump messages answers ping from that kernel: not a sign of life.
    ...(recovery.crashKernel ? { crashKernel: recovery.crashKernel } : {}),
    // Where the hosts' disks are on Ceph, their watchers are evidence on an independent network.
    ...(config.ceph ? { storageSignal: cephStorageSignal(config, createStorageFence(config.ceph, config.fencing), compute, { volumes }) } : {}),
    owner: opts.owner ?? `${hostname()}/${process.pid}`,
    onRound,
  });
  detectorView.current = detector;
  const extraRounds = new ExtraRounds(detector, onRound, logger);

  readiness = trackReadiness(metrics, () => readinessOf(() => connection.ping(), rounds, config.detector));
  // Prometheus scrapes /metrics, not /readyz: refresh cmpha_ready on a timer.
  const readyTimer = setInterval(() => { void readiness().catch(() => undefined); }, Math.max(5000, config.detector.intervalMs));
  readyTimer.unref();

  await reportFpingPermission(config, opts, prober);
  const apiServer = await startApi(config, opts, connection, recovery, rounds, extraRounds);
  const orphans = startOrphanCheck(config, opts, foundation, recovery, notifier, rounds);
  // PROCESS and VM notifications the API queued: acted on by the leader only.
  const masakari = startMasakariIntake({
    config, redis: connection, compute: recovery.compute, incidents: recovery.incidents, notifier, healer, logger,
    probe: (host, reason) => extraRounds.requestProbe(host, reason),
    mgmtIp: (host) => rounds.last?.hosts.find((h) => h.host === host)?.evidence.mgmt.ip ?? null,
    isLeader: () => !config.detector.dryRun && lease.isLeader,
  });
  const fenceSettings = watchFenceSettings(recovery, { logger, everyMs: opts.fenceSettingsCheckMs ?? 10_000, isLeader: () => lease.isLeader });
  // [recovery] return_repaired_hosts / power_on_fenced_hosts: off by default, and then nothing runs.
  const returns = returnSettingsOf(config);
  const hostReturns = returns && config.recovery
    ? watchHostReturns(recovery, returns, { logger: logger.child({ component: 'host-return' }), everyMs: config.recovery.checkIntervalMs, isLeader: () => lease.isLeader, storage: (h) => storageUnfence(config, h) })
    : null;

  detector.start();
  logger.info({ version: version(), hosts: Object.keys(config.hosts).length, dryRun: config.detector.dryRun, metrics: metricsServer ? `${(opts.metricsListen ?? config.metrics.listen).host}:${metricsServer.port}` : 'off' }, 'cmpha controller started');

  const running: RunningParts = {
    foundation, apiServer, timers: [{ stop: () => clearInterval(readyTimer) }, bmcs, fenceSettings, { stop: () => witness?.stop() }, ...(hostReturns ? [hostReturns] : [])], extraRounds, orphans, detector, leadership, healer, recovery, notifiers, metricsServer,
    masakari,
  };
  return {
    recovery, notifier, metrics, metricsServer, apiServer, lease,
    redisDown: () => foundation.outage.down,
    lastRound: () => rounds.last,
    stop: () => stopController(running),
  };
}
