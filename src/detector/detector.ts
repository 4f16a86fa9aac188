import type { Redis } from 'ioredis';
import type { Config } from '../config/types.js';
import type { NotificationService } from '../notifier/types.js';
import { namesOf, type ComputeBackend } from '../compute/types.js';
import { CmphaError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { systemClock, withTimeout, type Clock } from '../shared/time.js';
import { Actor, type ActResult } from './act.js';
import { HostBook } from './host-book.js';
import { keepLease } from '../leadership/keep-lease.js';
import type { LeaderLease } from '../leadership/lease.js';
import { Observer, type Observation, type ObserveTuning, type PowerLook, type StorageSignal } from './observe.js';
import { runDetectorLoop } from './loop.js';
import { recordRoundMetrics } from './round-metrics.js';
import { startStallWatchdog, type StallWatchdog } from './stall-watchdog.js';
import type { AgentHealer, CrashKernelLook, Detector, DetectorMetrics, IncidentOpener, Prober, RoundReport } from './types.js';

// The detector's loop: observe (observe.ts: Nova, addresses, probes) → judge (judge.ts: pure verdicts over
// time) → act (act.ts: lease, storm brake, incidents, alerts), as the Kubernetes node lifecycle controller
// splits it. A full round runs every `interval`; between rounds the hosts under suspicion are re-observed every
// `probe_interval`, so their silence is timed rather than counted in rounds.

export interface DetectorDeps {
  readonly config: Config;
  /** The cloud: heartbeats, guests per host, management addresses. */
  readonly compute: Pick<ComputeBackend, 'hosts' | 'guestsOn' | 'guestsChangedSince' | 'hostAddresses' | 'groups' | 'names'>;
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
  /** The lease to take each round and renew on its own timer (the controller shares it with the recovery workers); else one is made on `redis`. */
  readonly lease?: LeaderLease;
  readonly tuning?: Partial<DetectorTuning>;
  /** Storage-side evidence (e.g. Ceph watchers) for hosts under suspicion. */
  readonly storageSignal?: StorageSignal;
  /** The BMCs' power reads of hosts under suspicion (power-witness.ts): chassis `off` spares the heartbeat wait. */
  readonly powerLook?: PowerLook;
  /** fence_kdump messages heard lately (where [kdump] is enabled): a host sending them answers ping from its crash kernel. */
  readonly crashKernel?: CrashKernelLook;
  /** Called after every round of the loop started by start(): the report, or the error that ended the round. */
  readonly onRound?: (report: RoundReport | null, error?: unknown) => void;
}

export interface DetectorTuning extends ObserveTuning {
  /** A loop that has finished no round for this many intervals (at least stalledMinMs) pages. */
  readonly stalledAfterIntervals: number;
  readonly stalledMinMs: number;
}

const DEFAULT_TUNING: DetectorTuning = {
  baselineEveryRounds: 30, baselineChangedLooks: 6, changesEveryRounds: 1, hypervisorRefreshRounds: 30, novaConcurrency: 8, stalledAfterIntervals: 3, stalledMinMs: 30_000,
};

/** The round report of one observation once the actor has acted on it. */
function roundReport(obs: Observation, result: ActResult, durationMs: number, dryRun: boolean): RoundReport {
  return {
    round: obs.round,
    kind: obs.kind,
    startedAt: obs.at,
    durationMs,
    leader: result.leader,
    dryRun,
    isolated: obs.isolationReason !== null,
    isolationReason: obs.isolationReason,
    probeFailed: obs.probeFailed,
    blindReason: obs.blindReason,
    stormBrake: result.stormBrake,
    hosts: result.hosts,
    disarms: result.disarms,
  };
}

/** Runs `fn`s one after another: a call made while one runs waits for it; a failure does not stop the next. */
function serialQueue(): { run<T>(fn: () => Promise<T>): Promise<T>; idle(): Promise<unknown> } {
  let chain: Promise<unknown> = Promise.resolve();
  return {
    run<T>(fn: () => Promise<T>): Promise<T> {
      const next = chain.then(fn);
      chain = next.catch(() => undefined);
      return next;
    },
    idle: () => chain,
  };
}

export function createDetector(deps: DetectorDeps): Detector {
  const { config, compute, prober, logger } = deps;
  const cfg = config.detector;
  const clock = deps.clock ?? systemClock;
  const mono = deps.monotonic ?? (deps.clock ? () => clock.now() : () => performance.now());
  // Baselines and hypervisors are refreshed by time (about every 5 minutes), not by a count of rounds that
  // would make a short interval list every host's servers far more often.
  const every5min = Math.max(30, Math.ceil(300_000 / cfg.intervalMs));
  // A guest Nova has just called ACTIVE is given about two minutes to answer before its host waits for its turn.
  const looks = Math.max(3, Math.ceil(120_000 / cfg.intervalMs));
  // Nova's changed servers about every 5 seconds: a new server is baselined seconds after Nova lists it.
  const changesEvery = Math.max(1, Math.ceil(5000 / cfg.intervalMs));
  const tuning = {
    ...DEFAULT_TUNING, baselineEveryRounds: every5min, baselineChangedLooks: looks, changesEveryRounds: changesEvery, hypervisorRefreshRounds: every5min,
    ...(deps.tuning ?? {}),
  };
  const log = logger.child({ component: 'detector' });
  const observer = new Observer(config, compute, prober, { now: () => clock.now(), mono }, tuning, log, deps.storageSignal, deps.powerLook, deps.crashKernel);
  const actor = new Actor({ config, names: namesOf(compute), redis: deps.redis, incidents: deps.incidents, notifier: deps.notifier, ...(deps.healer ? { healer: deps.healer } : {}), logger: log, owner: deps.owner, ...(deps.lease ? { lease: deps.lease } : {}),
    ...(compute.groups ? { groups: () => compute.groups!() } : {}) });
  const book = new HostBook();
  const judgeConfig = { ...cfg, names: namesOf(compute) };
  const queue = serialQueue();
  let round = 0;
  // A round is cut after this long; one that waits on a slow Nova read takes up to it.
  const roundBoundMs = Math.max(2 * cfg.intervalMs, 30_000);
  let lastActed = mono();

  async function step(obs: Observation, startedMono: number, recordBaseline?: (healthy: (h: string) => boolean) => void): Promise<RoundReport> {
    const rlog = log.child({ round: obs.round });
    book.judge(obs, judgeConfig, rlog);
    recordBaseline?.((h) => book.isHealthy(h));
    const result = await actor.act(book.reportsFor(obs), {
      at: obs.at,
      isolationReason: obs.isolationReason,
      blindReason: obs.blindReason,
      // A probe older than probe_interval (a slow round on a large cloud) is looked at again before an incident;
      // a fresh one is the direct look, and the pipeline probes once more before it fences.
      recheck: mono() - obs.mono > cfg.probeIntervalMs ? (h) => observer.recheck(h) : null,
    });
    book.acted(result);
    lastActed = mono();
    if (obs.probeFailed) rlog.error({ err: obs.probeFailed }, 'probe failed: no ping evidence this time');
    const report = roundReport(obs, result, mono() - startedMono, cfg.dryRun);
    recordRoundMetrics(deps.metrics, report);
    rlog.debug({ kind: report.kind, durationMs: report.durationMs, hosts: report.hosts.length, leader: report.leader }, 'observation done');
    return report;
  }

  async function doRound(outer?: AbortSignal): Promise<RoundReport> {
    const signal = withTimeout(roundBoundMs, outer);
    const t0 = mono();
    round += 1;
    const obs = await observer.round(round, new Set(book.suspects()), signal);
    return step(obs, t0, obs.recordBaseline);
  }

  async function doSuspectCheck(outer?: AbortSignal): Promise<RoundReport | null> {
    const hosts = book.suspects();
    if (hosts.length === 0) return null;
    const signal = withTimeout(roundBoundMs, outer);
    const t0 = mono();
    round += 1;
    return step(await observer.suspects(round, hosts, signal), t0);
  }

  // Rounds and suspect checks never overlap.
  const runRound = (signal?: AbortSignal) => queue.run(() => doRound(signal));
  const runSuspectCheck = (signal?: AbortSignal) => queue.run(() => doSuspectCheck(signal));

  let loop: Promise<void> | null = null;
  let abort: AbortController | null = null;
  let watchdog: StallWatchdog | null = null;
  let keeper: { stop(): void } | null = null;

  return {
    runRound,
    runSuspectCheck,
    heartbeatSeen: (host) => book.heartbeatSeen(host),
    liveAddresses: (host) => observer.liveAddresses(host),
    start() {
      if (loop) return;
      const ac = new AbortController();
      abort = ac;
      const stall = startStallWatchdog({
        mono, now: () => clock.now(), log, page: (e) => actor.notify(e),
        stalledAfterMs: Math.max(tuning.stalledMinMs, tuning.stalledAfterIntervals * cfg.intervalMs),
        checkEveryMs: Math.min(cfg.intervalMs, 5000),
      });
      watchdog = stall;
      // The lease is renewed on its own timer, not by the rounds: one round waiting on a Nova read cut at
      // api_timeout (30 s, the default lease too) would let it lapse and the standby take over, and back. It is let
      // lapse when the cloud cannot be seen, or when no round has acted for two round bounds (a loop that is stuck,
      // not slow), so a replica that works takes over.
      if (actor.lease) {
        const lease = actor.lease;
        lastActed = mono();
        keeper = keepLease(lease, { logger: log, mayHold: () => !actor.blind && mono() - lastActed <= 2 * roundBoundMs });
      }
      loop = runDetectorLoop({
        signal: ac.signal, mono, intervalMs: cfg.intervalMs, probeIntervalMs: cfg.probeIntervalMs,
        runRound, runSuspectCheck, finished: () => stall.finished(), log, ...(deps.onRound ? { onRound: deps.onRound } : {}),
      });
    },
    async stop() {
      abort?.abort(new CmphaError('detector_stopped', 'detector stopped'));
      watchdog?.stop();
      watchdog = null;
      keeper?.stop();
      keeper = null;
      await loop;
      loop = null;
      abort = null;
      await queue.idle();
      await actor.release();
    },
  };
}
