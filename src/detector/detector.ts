import type { Redis } from 'ioredis';
import type { Config } from '../config/types.js';
import type { NotificationEvent, NotificationService } from '../notifier/types.js';
import type { ComputeService, NovaApi } from '../openstack/types.js';
import { CmphaError, errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { sleep, systemClock, withTimeout, type Clock } from '../shared/time.js';
import { AlertTracker } from './alerts.js';
import { classify, novaEvidence, type HostSignals } from './classify.js';
import { evaluateStorm, incidentId, RELEASED, stepBrake, type BrakeState, type BrakeStep } from './guard.js';
import { mapLimit } from '../shared/map-limit.js';
import { InstanceBaseline, listHostAddresses, type InstanceAddress } from './instance-addresses.js';
import { detectorKeys } from './keys.js';
import { LeaderLease } from './leader-lease.js';
import { MgmtAddressBook } from './mgmt-addresses.js';
import { StormBrakeStore } from './storm-brake-store.js';
import type {
  Detector, DetectorMetrics, HostAction, HostReport, HostState, IncidentOpener, InstanceAddressEvidence, MgmtResult, Prober,
  ProbeResult, RoundReport, StormBrakeReport,
} from './types.js';

export interface DetectorDeps {
  readonly config: Config;
  readonly nova: NovaApi;
  readonly prober: Prober;
  /** Leader lease and storm-brake state. Without it this process is the only controller. */
  readonly redis?: Redis;
  /** Without it nothing is opened: dead hosts report `would-open-incident` (what `cmpha check` shows). */
  readonly incidents?: IncidentOpener;
  readonly notifier?: NotificationService;
  readonly metrics?: DetectorMetrics;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Lease owner id; defaults to host/pid/random. */
  readonly owner?: string;
  /** The lease to take and renew each round (the controller shares it with the recovery workers); else one is made on `redis`. */
  readonly lease?: LeaderLease;
  readonly tuning?: Partial<DetectorTuning>;
  /** Called after every round of the loop started by start(): the report, or the error that ended the round. */
  readonly onRound?: (report: RoundReport | null, error?: unknown) => void;
}

export interface DetectorTuning {
  /** Healthy hosts' instance addresses are probed once every this many rounds (baseline). */
  readonly baselineEveryRounds: number;
  /** Hypervisors (host_ip) are listed once every this many rounds. */
  readonly hypervisorRefreshRounds: number;
  /** Parallel Nova calls when listing servers per host. */
  readonly novaConcurrency: number;
}

const DEFAULT_TUNING: DetectorTuning = { baselineEveryRounds: 30, hypervisorRefreshRounds: 30, novaConcurrency: 8 };

interface Instances {
  readonly addresses: readonly InstanceAddress[];
  readonly error?: string;
}

export function createDetector(deps: DetectorDeps): Detector {
  const { config, nova, prober, logger } = deps;
  const cfg = config.detector;
  const clock = deps.clock ?? systemClock;
  const tuning = { ...DEFAULT_TUNING, ...(deps.tuning ?? {}) };
  const log = logger.child({ component: 'detector' });
  const keys = detectorKeys(config.redis.prefix);
  const lease = deps.lease ?? (deps.redis ? new LeaderLease(deps.redis, keys.leader, cfg.leaderLeaseMs, { ...(deps.owner ? { owner: deps.owner } : {}), logger: log }) : undefined);
  const brakeStore = deps.redis ? new StormBrakeStore(deps.redis, config.redis.prefix) : undefined;
  const addressBook = new MgmtAddressBook(config.hosts, nova, log, tuning.hypervisorRefreshRounds);
  const baseline = new InstanceBaseline(tuning.baselineEveryRounds);
  const alerts = new AlertTracker();
  const states = new Map<string, HostState>();
  let memoryBrake: BrakeState = RELEASED;
  let wasIsolated = false;
  let round = 0;
  let wouldOpen = 0;
  let chain: Promise<unknown> = Promise.resolve();

  async function probe(ips: readonly string[], signal?: AbortSignal): Promise<{ results: Map<string, ProbeResult>; error: string | null }> {
    if (ips.length === 0) return { results: new Map(), error: null };
    try {
      return { results: await prober.probe(ips, signal), error: null };
    } catch (err) {
      if (signal?.aborted) throw err;
      return { results: new Map(), error: errorMessage(err) };
    }
  }

  async function notify(event: NotificationEvent): Promise<void> {
    if (!deps.notifier) return;
    try {
      await deps.notifier.notify(event);
    } catch (err) {
      log.error({ err: errorMessage(err), event: event.type }, 'notifier failed');
    }
  }

  async function leadership(isolated: boolean): Promise<boolean> {
    if (!lease) return true;
    // A controller that cannot see the cloud lets its lease lapse, so a replica that can see it takes over.
    if (isolated) return false;
    try {
      return await lease.acquireOrRenew();
    } catch (err) {
      log.warn({ err: errorMessage(err) }, 'cannot reach Redis for the leader lease: acting as standby');
      return false;
    }
  }

  async function brake(hosts: readonly HostReport[], leader: boolean, isolated: boolean, now: number): Promise<{ step: BrakeStep | null; report: StormBrakeReport }> {
    const evaluation = evaluateStorm(hosts, cfg);
    let prev: BrakeState;
    try {
      prev = brakeStore ? await brakeStore.load() : memoryBrake;
    } catch (err) {
      log.warn({ err: errorMessage(err) }, 'cannot read the storm-brake state: treating the brake as on');
      return { step: null, report: { active: true, reason: 'storm-brake state unreadable', since: null, overridden: false, count: evaluation.counted.length } };
    }
    if (isolated) {
      // Counts taken while blind mean nothing: keep the brake as it was.
      return { step: null, report: { active: prev.active, reason: prev.reason, since: prev.since, overridden: false, count: evaluation.counted.length } };
    }
    let resumeRequested = false;
    if (brakeStore && leader) {
      try {
        resumeRequested = await brakeStore.resumeRequested();
      } catch (err) {
        log.warn({ err: errorMessage(err) }, 'cannot read the resume request');
      }
    }
    const step = stepBrake(prev, evaluation, resumeRequested, now);
    if (brakeStore && leader) {
      try {
        await brakeStore.save(step.state);
        if (step.resumeConsumed) await brakeStore.clearResume();
      } catch (err) {
        log.warn({ err: errorMessage(err) }, 'cannot store the storm-brake state');
      }
    } else if (!brakeStore) {
      memoryBrake = step.state;
    }
    return {
      step,
      report: { active: step.state.active, reason: step.state.reason, since: step.state.since, overridden: step.overridden, count: evaluation.counted.length },
    };
  }

  async function decide(
    host: HostReport, ctx: { leader: boolean; isolated: boolean; brakeActive: boolean },
  ): Promise<{ action: HostAction; incidentId?: string }> {
    const v = host.verdict;
    if (v === 'healthy' || v === 'maintenance') return { action: 'none' };
    if (deps.incidents) {
      try {
        if (await deps.incidents.hasOpenIncident(host.host)) return { action: 'incident-already-open' };
      } catch (err) {
        log.error({ host: host.host, err: errorMessage(err) }, 'cannot ask whether an incident is open: opening nothing');
        return { action: v === 'dead' ? 'open-failed' : 'alert' };
      }
    }
    if (v !== 'dead') return { action: v === 'suspect' ? 'wait-confirm' : 'alert' };
    const id = incidentId(host.host, host.evidence.suspectSince ?? host.evidence.at);
    if (ctx.isolated) return { action: 'blocked-controller-isolated', incidentId: id };
    if (ctx.brakeActive) return { action: 'blocked-storm-brake', incidentId: id };
    if (!ctx.leader) return { action: 'blocked-standby', incidentId: id };
    if (!deps.incidents || cfg.dryRun) {
      wouldOpen += 1;
      log.warn({ host: host.host, incidentId: id, dryRun: cfg.dryRun, wouldOpen }, 'would open an incident (nothing opened)');
      return { action: 'would-open-incident', incidentId: id };
    }
    try {
      const { created } = await deps.incidents.open({
        id, host: host.host, failureStartedAt: host.evidence.suspectSince ?? host.evidence.at, evidence: host.evidence,
      });
      log.warn({ host: host.host, incidentId: id, created }, created ? 'incident opened' : 'incident already exists');
      return { action: created ? 'open-incident' : 'incident-exists', incidentId: id };
    } catch (err) {
      log.error({ host: host.host, incidentId: id, err: errorMessage(err) }, 'opening the incident failed; will retry next round');
      return { action: 'open-failed', incidentId: id };
    }
  }

  async function doRound(outer?: AbortSignal): Promise<RoundReport> {
    const signal = withTimeout(Math.max(2 * cfg.intervalMs, 30_000), outer);
    const startedAt = clock.now();
    round += 1;
    const n = round;
    const rlog = log.child({ round: n });

    // 1. Nova: one call for every nova-compute service.
    let services: ComputeService[] | null = null;
    let isolationReason: string | null = null;
    try {
      services = (await nova.listComputeServices({ signal })).filter((s) => s.binary === 'nova-compute');
    } catch (err) {
      if (outer?.aborted) throw err;
      isolationReason = `cannot reach the Nova API: ${errorMessage(err)}`;
    }

    const byHost = new Map<string, ComputeService>();
    for (const s of services ?? []) {
      const seen = byHost.get(s.host);
      if (!seen || (seen.status === 'disabled' && s.status === 'enabled')) byHost.set(s.host, s);
    }
    const hosts = [...byHost.keys()].sort();
    const enabled = hosts.filter((h) => byHost.get(h)!.status === 'enabled');

    if (services) await addressBook.refresh(n, enabled, signal);

    // 2. Baseline: instance addresses of hosts healthy last round (or new), a few hosts per round.
    const networks = cfg.instanceNetworks;
    const baselineHosts = services && networks.length > 0
      ? baseline.due(n, enabled.filter((h) => { const v = states.get(h)?.verdict; return v === undefined || v === 'healthy'; }))
      : [];
    const baselineLists = new Map<string, Instances>();
    await mapLimit(baselineHosts, tuning.novaConcurrency, async (h) => {
      const r = await listHostAddresses(nova, h, networks, signal);
      if (!r.error) baselineLists.set(h, r);
    });

    // 3. One probe for isolation addresses, every enabled host's management IP and the baseline addresses.
    const mgmt = new Map(enabled.map((h) => [h, addressBook.resolve(h)] as const));
    const firstTargets = new Set<string>(cfg.isolationAddresses);
    for (const m of mgmt.values()) if (m.ip) firstTargets.add(m.ip);
    for (const l of baselineLists.values()) for (const a of l.addresses) firstTargets.add(a.ip);
    const first = services ? await probe([...firstTargets], signal) : { results: new Map<string, ProbeResult>(), error: null };

    // 4. Self-check: a controller that reaches neither its isolation addresses nor Nova is the one cut off.
    if (services && !first.error && cfg.isolationAddresses.length > 0
      && !cfg.isolationAddresses.some((ip) => first.results.get(ip) === 'alive')) {
      isolationReason = `none of the isolation addresses answer (${cfg.isolationAddresses.join(', ')})`;
    }
    const isolated = isolationReason !== null;
    const pingUsable = !isolated && !first.error;
    const mgmtResult = (h: string): MgmtResult => {
      const m = mgmt.get(h);
      if (!m?.ip) return 'no-address';
      if (!pingUsable) return 'probe-failed';
      return first.results.get(m.ip) ?? 'unknown';
    };

    // 5. Instance addresses of hosts under suspicion, in a second probe.
    const suspicious = pingUsable
      ? enabled.filter((h) => {
          const nv = novaEvidence(byHost.get(h)!, startedAt, cfg.heartbeatTimeoutMs).says;
          const m = mgmtResult(h);
          return nv !== 'up' || m === 'silent' || m === 'unknown';
        })
      : [];
    const suspectLists = new Map<string, Instances>();
    if (networks.length > 0) {
      await mapLimit(suspicious, tuning.novaConcurrency, async (h) => {
        suspectLists.set(h, await listHostAddresses(nova, h, networks, signal));
      });
    }
    const secondTargets = [...new Set([...suspectLists.values()].flatMap((l) => l.addresses.map((a) => a.ip)))];
    const second = await probe(secondTargets, signal);

    // 6. Verdicts.
    const reports: HostReport[] = [];
    const classified = new Map<string, ReturnType<typeof classify>>();
    for (const h of hosts) {
      const service = byHost.get(h)!;
      const m = mgmt.get(h) ?? addressBook.resolve(h);
      let instances: HostSignals['instances'] = null;
      if (suspicious.includes(h)) {
        if (networks.length === 0) {
          instances = { addresses: [], note: 'instance_networks is empty: no instance evidence' };
        } else {
          const l = suspectLists.get(h)!;
          instances = {
            error: l.error,
            addresses: l.addresses.map((a): InstanceAddressEvidence => ({
              ...a,
              baseline: baseline.isBaseline(a.ip),
              result: second.error ? 'probe-failed' : (second.results.get(a.ip) ?? 'unknown'),
            })),
          };
        }
      }
      const signals: HostSignals = {
        host: h,
        round: n,
        now: startedAt,
        service,
        mgmt: { ip: m.ip, source: m.source, result: service.status === 'enabled' ? mgmtResult(h) : (m.ip ? 'not-probed' : 'no-address') },
        instances,
      };
      const c = classify(signals, states.get(h), cfg);
      classified.set(h, c);
      const prev = states.get(h)?.verdict;
      states.set(h, c.state);
      if (prev !== c.verdict) {
        const level = c.verdict === 'healthy' || c.verdict === 'maintenance' ? 'info' : 'warn';
        rlog[level]({ host: h, from: prev ?? null, to: c.verdict, reasons: c.evidence.reasons }, 'host verdict changed');
      }
      reports.push({ host: h, zone: service.zone ?? null, verdict: c.verdict, action: 'none', evidence: c.evidence });
    }
    for (const h of [...states.keys()]) if (!byHost.has(h) && services) states.delete(h);

    // 7. Baseline answers count only from hosts that are healthy this round.
    for (const [h, l] of baselineLists) {
      if (!first.error && !isolated && classified.get(h)?.verdict === 'healthy') baseline.record(h, l.addresses, first.results, startedAt);
    }

    // 8. Guards, then actions.
    const leader = await leadership(isolated);
    const { step, report: stormBrake } = await brake(reports, leader, isolated, startedAt);
    const acted: HostReport[] = [];
    for (const r of reports) {
      const d = await decide(r, { leader, isolated, brakeActive: stormBrake.active });
      acted.push({ ...r, ...d });
    }

    // 9. Alerts. Host alerts come from the leader only, so replicas do not page twice; a replica that is
    // cut off says so whatever its role, since that is news about the replica itself.
    const events = alerts.events(acted, startedAt);
    if (isolated && !wasIsolated) {
      await notify({ type: 'controller-isolated', severity: 'critical', summary: `cmpha is cut off and opens no incidents: ${isolationReason}`, at: startedAt });
    }
    if (leader) {
      if (step?.alert) {
        await notify({ type: 'storm-brake', severity: 'critical', summary: `storm brake on, no incidents opened: ${step.state.reason}`,
          details: 'Resolve the cause, or run `cmpha resume` to let the current hosts through.', at: startedAt });
      }
      for (const e of events) await notify(e);
    }
    if (isolated && !wasIsolated) rlog.error({ reason: isolationReason }, 'controller isolated: opening nothing');
    if (!isolated && wasIsolated) rlog.info('controller can see the cloud again');
    if (step?.alert) rlog.error({ reason: step.state.reason }, 'storm brake on: opening no incidents');
    if (step?.released) rlog.info('storm brake released');
    wasIsolated = isolated;
    if (first.error) rlog.error({ err: first.error }, 'management probe failed: no ping evidence this round');

    const durationMs = clock.now() - startedAt;
    const report: RoundReport = {
      round: n,
      startedAt,
      durationMs,
      leader,
      dryRun: cfg.dryRun,
      isolated,
      isolationReason,
      probeFailed: first.error,
      stormBrake,
      hosts: acted,
    };
    record(report);
    rlog.debug({ durationMs, hosts: acted.length, leader, isolated, brake: stormBrake.active }, 'round done');
    return report;
  }

  function record(report: RoundReport): void {
    const m = deps.metrics;
    if (!m) return;
    m.detectorRounds.inc();
    m.detectorRoundDuration.observe(report.durationMs / 1000);
    m.detectorLastRoundTimestamp.set(Math.floor((report.startedAt + report.durationMs) / 1000));
    m.leader.set(report.leader ? 1 : 0);
    m.stormBrakeActive.set(report.stormBrake.active ? 1 : 0);
    m.controllerIsolated.set(report.isolated ? 1 : 0);
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

  function runRound(signal?: AbortSignal): Promise<RoundReport> {
    // Rounds never overlap: a call made while one runs waits for it.
    const next = chain.then(() => doRound(signal));
    chain = next.catch(() => undefined);
    return next;
  }

  let loop: Promise<void> | null = null;
  let abort: AbortController | null = null;

  return {
    runRound,
    start() {
      if (loop) return;
      const ac = new AbortController();
      abort = ac;
      loop = (async () => {
        while (!ac.signal.aborted) {
          const t0 = clock.now();
          try {
            const report = await runRound(ac.signal);
            deps.onRound?.(report);
          } catch (err) {
            if (ac.signal.aborted) break;
            deps.onRound?.(null, err);
            log.error({ err: errorMessage(err), code: err instanceof CmphaError ? err.code : undefined }, 'detector round failed');
          }
          try {
            await sleep(Math.max(0, cfg.intervalMs - (clock.now() - t0)), ac.signal);
          } catch {
            break;
          }
        }
      })();
    },
    async stop() {
      abort?.abort(new CmphaError('detector_stopped', 'detector stopped'));
      await loop;
      loop = null;
      abort = null;
      await chain;
      if (lease) {
        try {
          await lease.release();
        } catch (err) {
          log.warn({ err: errorMessage(err) }, 'cannot release the leader lease; it lapses on its own');
        }
      }
    },
  };
}
