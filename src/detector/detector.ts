import type { Redis } from 'ioredis';
import type { Config } from '../config/types.js';
import type { NotificationService } from '../notifier/types.js';
import type { NovaApi } from '../openstack/types.js';
import { CmphaError, errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { sleep, systemClock, withTimeout, type Clock } from '../shared/time.js';
import { Actor } from './act.js';
import type { LeaderLease } from './leader-lease.js';
import { judge } from './judge.js';
import { Observer, type Observation, type ObserveTuning, type StorageSignal } from './observe.js';
import type { AgentHealer, Detector, DetectorMetrics, HostMemory, HostReport, IncidentOpener, Prober, RoundReport } from './types.js';

// The detector's loop: observe (observe.ts: Nova, addresses, probes) → judge (judge.ts: pure verdicts over
// time) → act (act.ts: lease, storm brake, incidents, alerts), as the Kubernetes node lifecycle controller
// splits it. A full round runs every `interval`; between rounds the hosts under suspicion are re-observed every
// `probe_interval`, so their silence is timed rather than counted in rounds.

export interface DetectorDeps {
  readonly config: Config;
  readonly nova: NovaApi;
  readonly prober: Prober;
  /** Leader lease and storm-brake state. Without it this process is the only controller. */
  readonly redis?: Redis;
  /** Without it nothing is opened: dead hosts report `would-open-incident` (what `cmpha check` shows). */
  readonly incidents?: IncidentOpener;
  readonly notifier?: NotificationService;
  /** Heals `agent-down` hosts that have a remediation command before anyone is paged. */
  readonly healer?: AgentHealer;
  readonly metrics?: DetectorMetrics;
  readonly logger: Logger;
  /** Wall clock, for evidence and incident ids. */
  readonly clock?: Clock;
  /** Monotonic clock in ms for every duration; defaults to `clock` when one is given, else performance.now(). */
  readonly monotonic?: () => number;
  /** Lease owner id; defaults to host/pid/random. */
  readonly owner?: string;
  /** The lease to take and renew each round (the controller shares it with the recovery workers); else one is made on `redis`. */
  readonly lease?: LeaderLease;
  readonly tuning?: Partial<DetectorTuning>;
  /** Storage-side evidence (e.g. Ceph watchers) for hosts under suspicion. */
  readonly storageSignal?: StorageSignal;
  /** Called after every round of the loop started by start(): the report, or the error that ended the round. */
  readonly onRound?: (report: RoundReport | null, error?: unknown) => void;
}

export interface DetectorTuning extends ObserveTuning {
  /** A loop that has finished no round for this many intervals (at least stalledMinMs) pages. */
  readonly stalledAfterIntervals: number;
  readonly stalledMinMs: number;
}

const DEFAULT_TUNING: DetectorTuning = {
  baselineEveryRounds: 30, hypervisorRefreshRounds: 30, novaConcurrency: 8, stalledAfterIntervals: 3, stalledMinMs: 30_000,
};

const QUIET: ReadonlySet<string> = new Set(['healthy', 'maintenance']);

export function createDetector(deps: DetectorDeps): Detector {
  const { config, nova, prober, logger } = deps;
  const cfg = config.detector;
  const clock = deps.clock ?? systemClock;
  const mono = deps.monotonic ?? (deps.clock ? () => clock.now() : () => performance.now());
  // Baselines and hypervisors are refreshed by time (about every 5 minutes), not by a count of rounds that
  // would make a short interval list every host's servers far more often.
  const every5min = Math.max(30, Math.ceil(300_000 / cfg.intervalMs));
  const tuning = { ...DEFAULT_TUNING, baselineEveryRounds: every5min, hypervisorRefreshRounds: every5min, ...(deps.tuning ?? {}) };
  const log = logger.child({ component: 'detector' });
  const observer = new Observer(config, nova, prober, { now: () => clock.now(), mono }, tuning, log, deps.storageSignal);
  const actor = new Actor({ config, redis: deps.redis, incidents: deps.incidents, notifier: deps.notifier, ...(deps.healer ? { healer: deps.healer } : {}), logger: log, owner: deps.owner, ...(deps.lease ? { lease: deps.lease } : {}) });
  const memory = new Map<string, HostMemory>();
  const latest = new Map<string, HostReport>();
  let round = 0;
  let chain: Promise<unknown> = Promise.resolve();

  /** Hosts worth a look between rounds: unhealthy, or with any signal silent, and no incident yet. */
  function suspects(): string[] {
    return [...latest.values()]
      .filter((r) => !QUIET.has(r.verdict) || r.evidence.silentForMs > 0 || r.evidence.networks.some((n) => n.result === 'silent'))
      .filter((r) => r.action !== 'incident-already-open' && r.action !== 'incident-exists' && r.action !== 'open-incident')
      .filter((r) => r.verdict !== 'maintenance')
      .map((r) => r.host);
  }

  async function step(obs: Observation, startedMono: number, recordBaseline?: (healthy: (h: string) => boolean) => void): Promise<RoundReport> {
    const rlog = log.child({ round: obs.round });
    if (obs.kind === 'round' && obs.listed) {
      const present = new Set(obs.hosts.map((h) => h.host));
      for (const h of [...latest.keys()]) if (!present.has(h)) { latest.delete(h); memory.delete(h); }
    }
    for (const o of obs.hosts) {
      const j = judge(o, memory.get(o.host), cfg);
      const prev = memory.get(o.host)?.verdict;
      memory.set(o.host, j.memory);
      if (prev !== j.verdict) {
        const level = QUIET.has(j.verdict) ? 'info' : 'warn';
        rlog[level]({ host: o.host, from: prev ?? null, to: j.verdict, reasons: j.evidence.reasons }, 'host verdict changed');
      }
      latest.set(o.host, { host: o.host, zone: j.evidence.zone, verdict: j.verdict, action: 'none', evidence: j.evidence });
    }
    recordBaseline?.((h) => memory.get(h)?.verdict === 'healthy');

    const reports = obs.kind === 'round' && !obs.listed ? [] : [...latest.values()].sort((a, b) => a.host.localeCompare(b.host));
    const result = await actor.act(reports, {
      at: obs.at,
      isolationReason: obs.isolationReason,
      blindReason: obs.blindReason,
      // A probe older than probe_interval (a slow round on a large cloud) is looked at again before an incident;
      // a fresh one is the direct look, and the pipeline probes once more before it fences.
      recheck: mono() - obs.mono > cfg.probeIntervalMs ? (h) => observer.recheck(h) : null,
    });
    for (const h of result.recheckedAlive) {
      const m = memory.get(h);
      if (m) memory.set(h, { ...m, silentSinceMono: null });
    }
    for (const r of result.hosts) latest.set(r.host, r);
    if (obs.probeFailed) rlog.error({ err: obs.probeFailed }, 'probe failed: no ping evidence this time');

    const report: RoundReport = {
      round: obs.round,
      kind: obs.kind,
      startedAt: obs.at,
      durationMs: mono() - startedMono,
      leader: result.leader,
      dryRun: cfg.dryRun,
      isolated: obs.isolationReason !== null,
      isolationReason: obs.isolationReason,
      probeFailed: obs.probeFailed,
      blindReason: obs.blindReason,
      stormBrake: result.stormBrake,
      hosts: result.hosts,
    };
    record(report);
    rlog.debug({ kind: report.kind, durationMs: report.durationMs, hosts: report.hosts.length, leader: report.leader }, 'observation done');
    return report;
  }

  async function doRound(outer?: AbortSignal): Promise<RoundReport> {
    const signal = withTimeout(Math.max(2 * cfg.intervalMs, 30_000), outer);
    const t0 = mono();
    round += 1;
    const obs = await observer.round(round, new Set(suspects()), signal);
    return step(obs, t0, obs.recordBaseline);
  }

  async function doSuspectCheck(outer?: AbortSignal): Promise<RoundReport | null> {
    const hosts = suspects();
    if (hosts.length === 0) return null;
    const signal = withTimeout(Math.max(2 * cfg.intervalMs, 30_000), outer);
    const t0 = mono();
    round += 1;
    return step(await observer.suspects(round, hosts, signal), t0);
  }

  function record(report: RoundReport): void {
    const m = deps.metrics;
    if (!m) return;
    if (report.kind === 'round') {
      m.detectorRounds.inc();
      m.detectorRoundDuration.observe(report.durationMs / 1000);
    }
    m.detectorLastRoundTimestamp.set(Math.floor((report.startedAt + report.durationMs) / 1000));
    m.leader.set(report.leader ? 1 : 0);
    m.stormBrakeActive.set(report.stormBrake.active ? 1 : 0);
    m.controllerIsolated.set(report.isolated || report.blindReason !== null ? 1 : 0);
    m.agentDownHosts.set(report.hosts.filter((h) => h.verdict === 'agent-down').length);
    const counts = new Map<string, { verdict: string; zone: string; n: number }>();
    for (const h of report.hosts) {
      const k = `${h.verdict}\u0000${h.zone ?? ''}`;
      const c = counts.get(k) ?? { verdict: h.verdict, zone: h.zone ?? '', n: 0 };
      c.n += 1;
      counts.set(k, c);
    }
    m.hostsByVerdict.reset();
    for (const c of counts.values()) m.hostsByVerdict.set({ verdict: c.verdict, zone: c.zone }, c.n);
  }

  /** Rounds and suspect checks never overlap: a call made while one runs waits for it. */
  function serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = chain.then(fn);
    chain = next.catch(() => undefined);
    return next;
  }

  const runRound = (signal?: AbortSignal) => serial(() => doRound(signal));
  const runSuspectCheck = (signal?: AbortSignal) => serial(() => doSuspectCheck(signal));

  let loop: Promise<void> | null = null;
  let abort: AbortController | null = null;
  let watchdog: NodeJS.Timeout | null = null;

  return {
    runRound,
    runSuspectCheck,
    heartbeatSeen: (host) => memory.get(host)?.heartbeat.value ?? null,
    liveAddresses: (host) => observer.liveAddresses(host),
    start() {
      if (loop) return;
      const ac = new AbortController();
      abort = ac;
      let lastFinished = mono();
      let stalledPaged = false;
      // A round that never ends (a Nova that trickles its answer, a hung probe) must not go unnoticed.
      const stalledAfter = Math.max(tuning.stalledMinMs, tuning.stalledAfterIntervals * cfg.intervalMs);
      watchdog = setInterval(() => {
        const idle = mono() - lastFinished;
        if (idle < stalledAfter || stalledPaged) return;
        stalledPaged = true;
        log.error({ idleMs: Math.round(idle) }, 'detector has finished no round for a while: nothing is being watched');
        void actor.notify({
          type: 'detector-stalled', severity: 'critical',
          summary: `cmpha's detector has finished no round for ${Math.round(idle / 1000)} s: no host is being watched`, at: clock.now(),
        });
      }, Math.min(cfg.intervalMs, 5000));
      watchdog.unref();
      const finished = () => {
        lastFinished = mono();
        if (stalledPaged) log.info('detector rounds finish again');
        stalledPaged = false;
      };
      loop = (async () => {
        while (!ac.signal.aborted) {
          const roundStart = mono();
          try {
            const report = await runRound(ac.signal);
            finished();
            deps.onRound?.(report);
          } catch (err) {
            if (ac.signal.aborted) break;
            deps.onRound?.(null, err);
            log.error({ err: errorMessage(err), code: err instanceof CmphaError ? err.code : undefined }, 'detector round failed');
          }
          try {
            // Until the next round, re-observe suspects every probe_interval; at least once after every round,
            // so that suspects keep a short cadence even when rounds take longer than the interval (large clouds).
            let checked = false;
            while (!ac.signal.aborted && (!checked || mono() - roundStart + cfg.probeIntervalMs < cfg.intervalMs)) {
              checked = true;
              const t = mono();
              let r: RoundReport | null = null;
              try {
                r = await runSuspectCheck(ac.signal);
                if (r) deps.onRound?.(r);
              } catch (err) {
                if (ac.signal.aborted) break;
                log.error({ err: errorMessage(err) }, 'suspect check failed');
              }
              if (!r) break;
              await sleep(Math.max(0, Math.min(cfg.probeIntervalMs, cfg.intervalMs - (mono() - roundStart)) - (mono() - t)), ac.signal);
            }
            await sleep(Math.max(0, cfg.intervalMs - (mono() - roundStart)), ac.signal);
          } catch {
            break;
          }
        }
      })();
    },
    async stop() {
      abort?.abort(new CmphaError('detector_stopped', 'detector stopped'));
      if (watchdog) clearInterval(watchdog);
      watchdog = null;
      await loop;
      loop = null;
      abort = null;
      await chain;
      await actor.release();
    },
  };
}
