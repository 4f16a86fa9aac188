import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Registry } from 'prom-client';
import type { Config } from '../config/types.js';
import { createDetector, createHostLivenessCheck, createProber, LeaderLease } from '../detector/index.js';
import { detectorKeys } from '../detector/keys.js';
import type { Detector, Prober, RoundReport } from '../detector/types.js';
import { checkFpingPermission } from '../detector/fping-prober.js';
import type { FenceDriver } from '../fencing/types.js';
import { checkAllFencing } from '../fencing/check-fencing.js';
import { createStorageFence } from '../fencing/fence-plan.js';
import { createMetrics, initFenceDriver, initNotificationChannel, type Metrics } from '../metrics/metrics.js';
import { startMetricsServer, type MetricsServer, type ReadinessReport } from '../metrics/http-server.js';
import { trackReadiness } from '../metrics/track-readiness.js';
import { createNotificationService } from '../notifier/service.js';
import type { DeliveryRecord, NotificationService } from '../notifier/types.js';
import { createOpenStack } from '../openstack/index.js';
import type { NovaApi } from '../openstack/types.js';
import { confirmFence, fenceDriversFromConfig, startOrphanReconciler, startRecoveryWorker, type QueueTuning, type RecoveryWorker } from '../pipeline/index.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { createRedis } from '../shared/redis-connect.js';
import { RedisOutageLog } from '../shared/redis-outage.js';
import { cephStorageSignal } from './storage-signal.js';
import { systemClock } from '../shared/time.js';
import { startApiServer, type ApiServer, type ProbeRequests } from '../api/index.js';
import { version } from '../cli/version.js';
import { withResolvedBmcs, type BmcLookup } from '../fencing/resolve-bmc.js';
import { createAgentRemediator } from '../remediation/agent-remediator.js';
import { leaderOnlyFenceDriver, leaderOnlyNova } from './leader-guard.js';

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
}

export interface Controller {
  readonly recovery: RecoveryWorker;
  readonly nova: NovaApi;
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

/**
 * The composition root of `cmpha run`: one Redis connection, one OpenStack client, the notifier, the
 * recovery workers, the detector loop and the metrics endpoint, built from the validated config. Nothing
 * here decides anything; it only wires the parts together.
 */
export async function startController(validated: Config, opts: ControllerOptions): Promise<Controller> {
  const logger = opts.logger;
  // BMC names resolved once, now: from here on every fence is given an IP literal.
  const config = await withResolvedBmcs(validated, {
    resolved: (host, bmc, address) => logger.info({ host, bmc, address }, 'BMC name resolved'),
    problem: (host, bmc, message) => logger.error({ host, bmc }, message),
  }, opts.bmcLookup);
  const registry = new Registry();
  const metrics = createMetrics(registry, { version: version() });

  // The metrics port first: a port that is taken ends the start before anything holds the process open.
  let readiness: () => Promise<ReadinessReport> = () => Promise.reject(new Error('starting'));
  let metricsServer: MetricsServer | null = null;
  if (opts.metrics !== false && config.metrics.enabled) {
    metricsServer = await startMetricsServer({ listen: opts.metricsListen ?? config.metrics.listen, registry, readiness: () => readiness(), logger });
  }

  const outage = new RedisOutageLog(logger.child({ component: 'redis' }));
  const connection = createRedis(config.redis, { mode: 'queue', outage });
  const lease = new LeaderLease(connection, detectorKeys(config.redis.prefix).leader, config.detector.leaderLeaseMs, {
    owner: opts.owner ?? `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`, logger: logger.child({ component: 'leader' }),
  });
  const { nova, identity, placement, neutron } = createOpenStack(config.cloud, { logger });

  const countDeliveries = (records: readonly DeliveryRecord[]) => {
    for (const r of records) if (!r.skipped) metrics.notifications.inc({ channel: r.channel, result: r.ok ? 'sent' : 'failed' });
  };
  const baseNotifier = createNotificationService({
    notifiers: config.notifiers, escalation: config.escalation, identity, redis: connection, keyPrefix: config.redis.prefix, logger,
    onDelivery: countDeliveries,
  });
  for (const n of baseNotifier.channelNames()) initNotificationChannel(metrics, n);
  const notifier: NotificationService = {
    async notify(event) {
      const records = await baseNotifier.notify(event);
      countDeliveries(records);
      return records;
    },
  };

  const configuredDriver = fenceDriversFromConfig(config, logger, (driver) => initFenceDriver(metrics, driver.kind));
  // Every configured driver's series from the start; the drivers themselves (each with its HTTP agent and logger)
  // are built when a host is fenced or checked, not for all 5,000 hosts of a large cloud at once.
  for (const kind of new Set(Object.values(config.hosts).map((h) => h.fence.driver))) if (kind !== 'none') initFenceDriver(metrics, kind);
  // Power changes only while this process leads with its epoch (status reads pass).
  const fenceDriverFor = (host: string): FenceDriver | null => {
    const driver = configuredDriver(host);
    return driver ? leaderOnlyFenceDriver(driver, lease) : null;
  };

  const prober = opts.prober ?? createProber(config.detector, { logger });
  const verifyProber = createProber({ ...config.detector, probeCount: 1 }, { logger });
  let detectorRef: Detector | null = null;
  // Only the leader's workers take jobs, and every action they take re-checks the lease's epoch first.
  const recovery = await startRecoveryWorker(config, {
    logger, connection, outage, nova: leaderOnlyNova(nova, lease), placement, neutron, notifier, fenceDriverFor, metrics, queue: opts.queue,
    // One packet per poll: verification asks again every verify_poll_interval, and a probe holds its evacuation slot.
    probe: (ips, signal) => (opts.prober ?? verifyProber).probe(ips, signal),
    leadership: lease, start: false,
    // The last look before fencing: direct probes of every address, and whether Nova's updated_at moved since
    // the detector's verdict. No clock comparison, so a fast verdict is not undone by a 10 s old heartbeat.
    isHostAlive: createHostLivenessCheck({
      config, nova, prober, logger,
      heartbeatSeen: (h) => detectorRef?.heartbeatSeen(h) ?? null,
      extraAddresses: (h) => detectorRef?.liveAddresses(h) ?? [],
    }),
  });

  // Leader only: the detector hands it agent-down hosts from its act step, which runs its alerts on the leader.
  const healer = createAgentRemediator({
    config, nova, notifier, logger, onResult: (r) => metrics.agentRemediations.inc({ result: r.ok ? 'healed' : 'failed' }),
  });
  let roleChange: Promise<void> = Promise.resolve();
  lease.onChange((leading) => {
    roleChange = roleChange.then(() => (leading ? recovery.startWorkers() : recovery.pauseWorkers())).catch((err: unknown) => {
      logger.error({ err: errorMessage(err) }, leading ? 'cannot start the recovery workers' : 'cannot pause the recovery workers');
    });
  });

  let last: RoundReport | null = null;
  let lastError: string | null = null;
  const detector: Detector = createDetector({
    config, nova, prober, redis: connection, lease, incidents: recovery.opener, notifier, healer, metrics, logger,
    // Where the hosts' disks are on Ceph, their watchers are evidence on an independent network.
    ...(config.ceph ? { storageSignal: cephStorageSignal(config, createStorageFence(config.ceph, config.fencing), nova) } : {}),
    owner: opts.owner ?? `${hostname()}/${process.pid}`,
    onRound: (report, error) => onRound(report, error),
  });
  detectorRef = detector;
  function onRound(report: RoundReport | null, error?: unknown): void {
    if (report) {
      last = report;
      lastError = null;
      updateFencingGauge(report);
    } else {
      lastError = errorMessage(error);
    }
    opts.onRound?.(report, error);
  }

  // A Masakari notification asks for a probe now: one extra round (rounds never overlap; requests made while
  // one is pending join it). The verdict is still the detector's, by its own signals and rules.
  let extraRound: Promise<void> | null = null;
  let stopped = false;
  const probe: ProbeRequests = {
    requestProbe(host, reason) {
      logger.info({ host, reason }, 'probe requested now');
      if (extraRound || stopped) return;
      extraRound = detector.runRound().then((r) => onRound(r), (err: unknown) => { if (!stopped) onRound(null, err); })
        .finally(() => { extraRound = null; });
    },
  };

  // Enabled hosts cmpha could not fence now: no driver configured, or a BMC that did not answer its last
  // status read (checked every FENCING_CHECK_MS, read-only). They would never be evacuated.
  let bmcBroken = new Set<string>();
  function updateFencingGauge(report: RoundReport): void {
    // "No driver" is read from the config (what fenceDriverFor would say) rather than by building every host's driver each round.
    const unfenceable = report.hosts.filter((h) => h.verdict !== 'maintenance' && ((config.hosts[h.host]?.fence.driver ?? 'none') === 'none' || bmcBroken.has(h.host))).length;
    metrics.hostsWithoutFencing.set(unfenceable);
  }
  const FENCING_CHECK_MS = 5 * 60_000;
  const checkBmcs = async () => {
    try {
      const statuses = await checkAllFencing(Object.values(config.hosts).filter((h) => h.fence.driver !== 'none'), config.fencing, { logger });
      bmcBroken = new Set(statuses.filter((st) => !st.works && st.driver !== 'noop').map((st) => st.host));
      for (const st of statuses) if (!st.works && st.driver !== 'noop') logger.warn({ host: st.host, bmc: st.bmc, code: st.code, note: st.note }, 'fencing would not work for this host now');
    } catch (err) {
      logger.warn({ err: errorMessage(err) }, 'BMC status check failed');
    }
  };
  void checkBmcs();
  const bmcTimer = setInterval(() => { void checkBmcs(); }, FENCING_CHECK_MS);
  bmcTimer.unref();

  readiness = trackReadiness(metrics, async (): Promise<ReadinessReport> => {
    let redisOk = false;
    let redisDetail = '';
    try {
      redisOk = (await Promise.race([connection.ping(), new Promise<string>((_, rej) => setTimeout(() => rej(new Error('timed out')), 2000))])) === 'PONG';
      redisDetail = redisOk ? 'PONG' : 'unexpected reply';
    } catch (err) {
      redisDetail = errorMessage(err);
    }
    const age = last ? (Date.now() - (last.startedAt + last.durationMs)) / 1000 : null;
    const detectorOk = age !== null && age * 1000 < Math.max(3 * config.detector.intervalMs, 30_000);
    const novaOk = last !== null && lastError === null && !last.isolated;
    return {
      ready: redisOk && detectorOk && novaOk,
      checks: {
        redis: { ok: redisOk, detail: redisDetail },
        nova: { ok: novaOk, detail: lastError ?? (last?.isolationReason ?? (last ? 'reachable' : 'no round yet')) },
        detector: { ok: detectorOk, lastRoundAgeSeconds: age },
        role: last?.leader ? 'leader' : 'standby',
      },
    };
  });

  // Prometheus scrapes /metrics, not /readyz: refresh cmpha_ready on a timer.
  const readyTimer = setInterval(() => { void readiness().catch(() => undefined); }, Math.max(5000, config.detector.intervalMs));
  readyTimer.unref();

  if (config.detector.probe === 'fping' && !opts.prober) {
    const denied = await checkFpingPermission(prober);
    if (denied) logger.error({ err: denied.message, code: denied.code }, denied.code === 'probe_not_permitted' ? 'fping may not send ICMP' : 'fping does not work');
  }

  let apiServer: ApiServer | null = null;
  if (config.api.enabled) {
    apiServer = await startApiServer({
      config: { ...config.api, ...(opts.apiListen ? { listen: opts.apiListen } : {}) },
      redis: connection, prefix: config.redis.prefix, lastRound: () => last, hosts: config.hosts, probe, logger,
      fence: {
        async confirm(host, who) {
          const rec = await confirmFence({ store: recovery.incidents, notifier: recovery.notifier, logger, clock: systemClock }, host, who);
          await recovery.submit(rec.id);
          return rec;
        },
      },
    });
  }
  // Recoveries whose record Redis lost: found again from Nova's state, by the leader only, on their own timer.
  const orphans = startOrphanReconciler({
    nova, incidents: recovery.incidents, open: (req) => recovery.opener.create(req), notifier, reasonPrefix: config.evacuation.disabledReasonPrefix,
    logger: logger.child({ component: 'reconcile' }), clock: systemClock, everyMs: opts.orphanCheckMs ?? Math.max(config.detector.intervalMs, ORPHAN_CHECK_MIN_MS),
    isLeader: () => !config.detector.dryRun && lease.isLeader && last?.leader === true && !last.isolated,
  });

  detector.start();
  logger.info({ version: version(), hosts: Object.keys(config.hosts).length, dryRun: config.detector.dryRun, metrics: metricsServer ? `${(opts.metricsListen ?? config.metrics.listen).host}:${metricsServer.port}` : 'off' }, 'cmpha controller started');

  return {
    recovery, nova, notifier, metrics, metricsServer, apiServer, lease,
    redisDown: () => outage.down,
    lastRound: () => last,
    async stop() {
      stopped = true;
      await apiServer?.close();
      clearInterval(readyTimer);
      clearInterval(bmcTimer);
      await extraRound;
      // With Redis away there is nothing to hand over: fail every command waiting for it instead of waiting.
      if (outage.down) connection.disconnect();
      await orphans.stop();
      await detector.stop();
      await roleChange;
      await healer.stop();
      await recovery.stop();
      await baseNotifier.stop();
      await metricsServer?.close();
      connection.disconnect();
    },
  };
}
