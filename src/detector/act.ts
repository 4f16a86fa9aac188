import { namesOf, NOVA_NAMES, type CloudNames } from '../compute/types.js';
import type { Redis } from 'ioredis';
import type { Config } from '../config/types.js';
import type { NotificationEvent, NotificationService } from '../notifier/types.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { AlertTracker } from './alerts.js';
import { evaluateCascade, evaluateStorm, incidentId, mergeEvaluations, RELEASED, STORM_WINDOW_MS, stepBrake, stormHosts, type BrakeState, type BrakeStep, type CountedRecovery } from './guard.js';
import { describeScope, disarmOf, viewDisarms, type DisarmEntry, type DisarmView, type HostPlace } from './disarm.js';
import { DisarmStore } from './disarm-store.js';
import { detectorKeys } from './keys.js';
import { LeaderLease } from '../leadership/lease.js';
import { StormBrakeStore } from './storm-brake-store.js';
import type { ExistingIncident, IncidentStatus } from '../incidents/types.js';
import { segmentHolds } from '../masakari/segment-policy.js';
import { SegmentStore } from '../masakari/segments.js';
import type { AgentHealer, HostAction, HostEvidence, HostReport, IncidentOpener, StormBrakeReport } from './types.js';

// Action: what the controller does about verdicts — the leader lease, the storm brake, incidents and alerts.
// It observes nothing itself except through `recheck`, the direct probe before an incident is opened.

export interface ActDeps {
  readonly config: Config;
  /** The cloud's words for alerts and notes (Nova's when absent). */
  readonly names?: CloudNames;
  readonly redis?: Redis;
  readonly incidents?: IncidentOpener;
  readonly notifier?: NotificationService;
  /** Heals `agent-down` hosts that have a remediation command before anyone is paged. */
  readonly healer?: AgentHealer;
  readonly logger: Logger;
  readonly owner?: string;
  /** The lease to take each round (the controller shares it with the recovery workers); else one is made on `redis`. */
  readonly lease?: LeaderLease;
  /** Host → its placement groups (ComputeBackend.groups): for aggregate disarms and the per-aggregate limits. */
  readonly groups?: () => Promise<ReadonlyMap<string, readonly string[]>>;
}

/** The aggregates are read again after this long (they change when an operator moves a host, not every second). */
const GROUPS_TTL_MS = 60_000;

/** Why a host is held back from any incident this round: a disarm, its config's `ha = false`, or disarms unreadable. */
interface Hold {
  readonly action: 'blocked-disarmed' | 'blocked-ha-off' | 'open-failed';
  readonly why: string;
}

export interface ActContext {
  readonly at: number;
  readonly isolationReason: string | null;
  readonly blindReason: string | null;
  /**
   * Direct probe of a dead host's addresses; any answer, or a failed probe, stops the incident. Null when the
   * observation being acted on probed those addresses a moment ago (less than probe_interval).
   */
  readonly recheck: null | ((host: string) => Promise<{ alive: string[]; error: string | null }>);
}

export interface ActResult {
  readonly leader: boolean;
  readonly stormBrake: StormBrakeReport;
  readonly hosts: readonly HostReport[];
  /** Hosts a direct re-check found alive: their silence is broken. */
  readonly recheckedAlive: readonly string[];
  /** Hosts whose waiting incident was aborted because they showed life: their next failure is a new one. */
  readonly cameBack: readonly string[];
  /** The disarms, each in effect or pending until the incidents in its scope end; empty without Redis. */
  readonly disarms: readonly DisarmView[];
}

/** What is known of the open incidents this round: by host, or null when they could not be read. */
type OpenIncidents = ReadonlyMap<string, ExistingIncident> | null;

/** Incident statuses in which the incident cannot act on its host's death by itself: a dead verdict then pages. */
const CANNOT_ACT: ReadonlySet<IncidentStatus> = new Set<IncidentStatus>(['awaiting_fence']);

export class Actor {
  /** Taken (or renewed) at every round that can see the cloud; the detector's loop also renews it on its own timer. */
  readonly lease?: LeaderLease;
  /** Whether the last round could not see the cloud: then the lease is let lapse, so a replica that can see takes over. */
  blind = false;
  private readonly brakeStore?: StormBrakeStore;
  private readonly alerts: AlertTracker;
  private memoryBrake: BrakeState = RELEASED;
  private wasIsolated = false;
  private wasBlind = false;
  private wouldOpen = 0;
  /** Host → the incident (and status) last reported as already existing, so it is reported once, not every round. */
  private readonly toldExisting = new Map<string, string>();
  private openReadFailed = false;
  private readonly disarmStore?: DisarmStore;
  private readonly segmentStore?: SegmentStore;
  private segmentsFailed = false;
  private groupsCache: { at: number; groups: ReadonlyMap<string, readonly string[]> | null } | null = null;
  private groupsFailed = false;
  /** Disarm key → its state last round, so "now in effect" is recorded once, by the leader that saw it happen. */
  private readonly disarmStates = new Map<string, DisarmView['state']>();

  constructor(private readonly deps: ActDeps) {
    this.alerts = new AlertTracker(namesOf(deps));
    const keys = detectorKeys(deps.config.redis.prefix);
    if (deps.redis) {
      this.lease = deps.lease ?? new LeaderLease(deps.redis, keys.leader, deps.config.detector.leaderLeaseMs, { ...(deps.owner ? { owner: deps.owner } : {}), logger: deps.logger });
      this.brakeStore = new StormBrakeStore(deps.redis, deps.config.redis.prefix);
      this.disarmStore = new DisarmStore(deps.redis, deps.config.redis.prefix);
      this.segmentStore = new SegmentStore(deps.redis, deps.config.redis.prefix, deps.config.segments ?? [], { logger: deps.logger });
    }
  }

  private get log(): Logger {
    return this.deps.logger;
  }

  async notify(event: NotificationEvent): Promise<void> {
    if (!this.deps.notifier) return;
    try {
      await this.deps.notifier.notify(event);
    } catch (err) {
      this.log.error({ err: errorMessage(err), event: event.type }, 'notifier failed');
    }
  }

  private async leadership(blind: boolean): Promise<boolean> {
    if (!this.lease) return true;
    // A controller that cannot see the cloud lets its lease lapse, so a replica that can see it takes over.
    if (blind) return false;
    try {
      return await this.lease.acquireOrRenew();
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'cannot reach Redis for the leader lease: acting as standby');
      return false;
    }
  }

  /**
   * Incidents opened within the storm window, or the max_recoveries window when longer (an aborted one excepted:
   * its host was alive).
   */
  private async recentIncidents(now: number): Promise<CountedRecovery[]> {
    if (!this.deps.incidents) return [];
    const windowMs = Math.max(STORM_WINDOW_MS, this.deps.config.detector.maxRecoveries?.windowMs ?? 0);
    try {
      return (await this.deps.incidents.openedSince(now - windowMs)).filter((i) => i.status !== 'aborted').map((i) => ({ host: i.host, at: i.openedAt }));
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'cannot read the recent incidents: the storm brake counts the open ones only');
      return [];
    }
  }

  /** The disarms; null when Redis cannot be read (then nothing is opened: a disarm may be among them). */
  private async disarms(): Promise<DisarmEntry[] | null> {
    if (!this.disarmStore) return [];
    try {
      return await this.disarmStore.list();
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'cannot read the disarms: opening nothing this round');
      return null;
    }
  }

  /** Host → aggregates, read at most once a minute and only when something needs them; null when unreadable. */
  private async groups(now: number, needed: boolean): Promise<ReadonlyMap<string, readonly string[]> | null> {
    if (!needed || !this.deps.groups) return new Map();
    if (this.groupsCache && now - this.groupsCache.at < GROUPS_TTL_MS && this.groupsCache.groups !== null) return this.groupsCache.groups;
    try {
      const groups = await this.deps.groups();
      if (this.groupsFailed) this.log.info('the aggregates are readable again');
      this.groupsFailed = false;
      this.groupsCache = { at: now, groups };
      return groups;
    } catch (err) {
      if (!this.groupsFailed) this.log.warn({ err: errorMessage(err) }, 'cannot read the aggregates: a host in an aggregate that may be disarmed is held back; the per-aggregate limits count zones only');
      this.groupsFailed = true;
      return this.groupsCache?.groups ?? null;
    }
  }

  /** Hosts a failover segment holds back (disabled segment, on maintenance); null when Redis cannot be read. */
  private async segmentHolds(): Promise<Map<string, string> | null> {
    if (!this.segmentStore) return new Map();
    try {
      const holds = segmentHolds(await this.segmentStore.facts());
      this.segmentsFailed = false;
      return holds;
    } catch (err) {
      if (!this.segmentsFailed) this.log.warn({ err: errorMessage(err) }, 'cannot read the failover segments: opening nothing this round');
      this.segmentsFailed = true;
      return null;
    }
  }

  /**
   * Why each host is held back from incidents this round (disarm, `ha = false`, its failover segment disabled or
   * the host on maintenance, any of these unreadable).
   */
  private holds(reports: readonly HostReport[], entries: readonly DisarmEntry[] | null, placeOf: (host: string) => HostPlace, segments: ReadonlyMap<string, string> | null): Map<string, Hold> {
    const out = new Map<string, Hold>();
    for (const r of reports) {
      if (this.deps.config.hosts[r.host]?.ha === false) {
        out.set(r.host, { action: 'blocked-ha-off', why: `${r.host} is opted out of HA in the config ([host:${r.host}] ha = false)` });
        continue;
      }
      if (entries === null || segments === null) {
        out.set(r.host, { action: 'open-failed', why: entries === null ? 'the disarms cannot be read from Redis' : 'the failover segments cannot be read from Redis' });
        continue;
      }
      const bySegment = segments.get(r.host);
      if (bySegment) {
        out.set(r.host, { action: 'blocked-ha-off', why: bySegment });
        continue;
      }
      const d = disarmOf(entries, placeOf(r.host));
      if (d) {
        const until = d.until === null ? '' : ` until ${new Date(d.until).toISOString()}`;
        out.set(r.host, { action: 'blocked-disarmed', why: `HA is disarmed for ${describeScope(d.scope)} by ${d.by}${until}: ${d.reason}` });
      }
    }
    return out;
  }

  /**
   * Each disarm, in effect or pending on the open incidents of its scope. The leader records the moment a pending
   * one comes into effect in the audit list.
   */
  private async disarmViews(
    entries: readonly DisarmEntry[] | null, open: OpenIncidents, placeOf: (host: string) => HostPlace, leader: boolean, now: number,
  ): Promise<DisarmView[]> {
    if (!entries || !open) return [];
    const views = viewDisarms(entries, [...open.values()], placeOf, now, this.deps.config.detector.disarmLimitMs);
    for (const v of views) {
      const was = this.disarmStates.get(v.key);
      if (leader && was === 'pending' && v.state === 'in-effect' && this.disarmStore) {
        this.log.warn({ scope: v.key }, `the disarm of ${describeScope(v.scope)} is in effect: the incidents it waited for have ended`);
        try {
          await this.disarmStore.record({ action: 'in-effect', scope: v.scope, by: 'controller', at: now, reason: 'the incidents in its scope have ended' });
        } catch (err) {
          this.log.warn({ err: errorMessage(err) }, 'cannot record the disarm in the audit list');
        }
      }
      if (was === undefined && v.state === 'pending') this.log.warn({ scope: v.key, pendingOn: v.pendingOn }, `the disarm of ${describeScope(v.scope)} waits for incident(s) ${v.pendingOn.join(', ')} to end; no new incident is opened in its scope`);
      this.disarmStates.set(v.key, v.state);
    }
    for (const k of [...this.disarmStates.keys()]) if (!views.some((v) => v.key === k)) this.disarmStates.delete(k);
    return views;
  }

  private async brake(
    hosts: readonly HostReport[], leader: boolean, blind: boolean, now: number, blindWhy: string | null, withIncident: ReadonlySet<string>,
    cascade: ReturnType<typeof evaluateCascade>,
  ): Promise<{ step: BrakeStep | null; report: StormBrakeReport }> {
    const evaluation = mergeEvaluations(evaluateStorm(stormHosts(hosts, this.deps.config.detector.minSilenceMs, withIncident), this.deps.config.detector), cascade);
    let prev: BrakeState;
    try {
      prev = this.brakeStore ? await this.brakeStore.load() : this.memoryBrake;
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'cannot read the storm-brake state: treating the brake as on');
      return { step: null, report: { active: true, reason: 'storm-brake state unreadable', since: null, overridden: false, count: evaluation.counted.length } };
    }
    if (blind) {
      // Counts taken while blind mean nothing: the stored brake is left as it was. A blind controller opens
      // nothing, so the brake is reported on (the gauge, the alert and `status` say so), with the stored
      // reason when it was already on.
      return {
        step: null,
        report: {
          active: true, reason: prev.active ? prev.reason : `controller isolated: ${blindWhy ?? 'cut off'}`,
          since: prev.active ? prev.since : now, overridden: false, count: evaluation.counted.length,
        },
      };
    }
    let resumeRequested = false;
    if (this.brakeStore && leader) {
      try {
        resumeRequested = await this.brakeStore.resumeRequested();
      } catch (err) {
        this.log.warn({ err: errorMessage(err) }, 'cannot read the resume request');
      }
    }
    const step = stepBrake(prev, evaluation, resumeRequested, now);
    if (this.brakeStore && leader) {
      try {
        await this.brakeStore.save(step.state);
        if (step.resumeConsumed) await this.brakeStore.clearResume();
      } catch (err) {
        this.log.warn({ err: errorMessage(err) }, 'cannot store the storm-brake state');
      }
    } else if (!this.brakeStore) {
      this.memoryBrake = step.state;
    }
    return {
      step,
      report: { active: step.state.active, reason: step.state.reason, since: step.state.since, overridden: step.overridden, count: evaluation.counted.length },
    };
  }

  /** The open incidents, once a round; null (and logged once) when they cannot be read. */
  private async openIncidents(): Promise<OpenIncidents> {
    if (!this.deps.incidents) return new Map();
    try {
      const open = await this.deps.incidents.openIncidents();
      if (this.openReadFailed) this.log.info('open incidents readable again');
      this.openReadFailed = false;
      return new Map(open.map((i) => [i.host, i]));
    } catch (err) {
      if (!this.openReadFailed) this.log.error({ err: errorMessage(err) }, 'cannot read the open incidents: opening nothing');
      this.openReadFailed = true;
      return null;
    }
  }

  /**
   * A host that already has an open incident. One waiting for a fence watches its host: any sign of life since it
   * opened closes it (the host was repaired, or never died). A dead verdict is never ignored in silence: said once
   * per incident in the log and the incident's timeline, and paged when the incident cannot act on it.
   */
  private async existingIncident(
    host: HostReport, inc: ExistingIncident, ctx: { leader: boolean; at: number },
  ): Promise<{ action: HostAction; incidentId?: string; cameBack?: boolean }> {
    const { incidents, config } = this.deps;
    const v = host.verdict;
    const acting = ctx.leader && !config.detector.dryRun;
    const life = inc.status === 'awaiting_fence' ? signsOfLife(host.evidence, inc.openedAt, namesOf(this.deps)) : null;
    if (life && acting && incidents) {
      try {
        const { aborted } = await incidents.hostShowedLife(inc.id, life, ctx.at);
        if (aborted) {
          this.log.warn({ host: host.host, incidentId: inc.id, seen: life }, 'host came back before it was fenced: its waiting incident is aborted');
          return { action: 'incident-aborted', incidentId: inc.id, cameBack: true };
        }
      } catch (err) {
        this.log.error({ host: host.host, incidentId: inc.id, seen: life, err: errorMessage(err) }, 'the host of a waiting incident showed life, but the incident could not be closed');
      }
    }
    if (v === 'healthy' || v === 'maintenance') return { action: 'none' };
    const waiting = CANNOT_ACT.has(inc.status);
    const action: HostAction = v === 'dead' && waiting ? 'incident-waiting' : 'incident-already-open';
    // Once per incident and status: an incident that was recovering and now waits for a fence is told (and paged) again.
    const told = `${inc.id} ${inc.status}`;
    if (v !== 'dead' || !acting || this.toldExisting.get(host.host) === told) return { action, incidentId: inc.id };
    this.toldExisting.set(host.host, told);
    const said = waiting
      ? `${host.host} is judged dead, and its incident ${inc.id} is ${inc.status}: nothing is done until the host is fenced or a human confirms it off (cmpha fence confirm ${host.host})`
      : `${host.host} is judged dead; its incident ${inc.id} (${inc.status}) is recovering it`;
    this.log.warn({ host: host.host, incidentId: inc.id, status: inc.status }, said);
    try {
      await incidents?.note(inc.id, { level: waiting ? 'critical' : 'info', message: said, data: { verdict: v, reasons: host.evidence.reasons } });
    } catch (err) {
      this.log.warn({ host: host.host, incidentId: inc.id, err: errorMessage(err) }, 'cannot write the incident\'s timeline');
    }
    if (waiting) {
      await this.notify({ type: 'host-suspected', severity: 'critical', host: host.host, incidentId: inc.id, summary: said, details: host.evidence.reasons.join('\n'), at: ctx.at });
    }
    return { action, incidentId: inc.id };
  }

  private async decide(
    host: HostReport, ctx: ActContext & { leader: boolean; brakeActive: boolean; open: OpenIncidents; hold: Hold | undefined },
  ): Promise<{ action: HostAction; incidentId?: string; alive?: boolean; cameBack?: boolean; held?: string }> {
    const v = host.verdict;
    const { incidents } = this.deps;
    if (incidents) {
      if (ctx.open === null) {
        if (v === 'healthy' || v === 'maintenance') return { action: 'none' };
        return { action: v === 'dead' ? 'open-failed' : 'alert' };
      }
      const inc = ctx.open.get(host.host);
      if (inc) return this.existingIncident(host, inc, ctx);
    }
    if (v === 'healthy' || v === 'maintenance') return { action: 'none' };
    if (v !== 'dead') return { action: v === 'suspect' ? 'wait-confirm' : 'alert' };
    const failureStartedAt = host.evidence.suspectSince ?? host.evidence.at;
    const id = incidentId(host.host, failureStartedAt);
    // Held back before anything else: detection went on and says so, and nothing is opened, fenced or evacuated.
    if (ctx.hold) return { action: ctx.hold.action, held: ctx.hold.why };
    if (ctx.blindReason) return { action: 'blocked-detector-blind', incidentId: id };
    if (ctx.isolationReason) return { action: 'blocked-controller-isolated', incidentId: id };
    if (ctx.brakeActive) return { action: 'blocked-storm-brake', incidentId: id };
    if (!ctx.leader) return { action: 'blocked-standby', incidentId: id };
    // An observation seconds old is not enough: look once more, directly, before anything irreversible starts.
    const again = ctx.recheck ? await ctx.recheck(host.host) : { alive: [], error: null };
    if (again.alive.length > 0) {
      this.log.warn({ host: host.host, alive: again.alive }, 'the last look before opening an incident found the host alive');
      return { action: 'recheck-alive', incidentId: id, alive: true };
    }
    if (again.error) {
      this.log.warn({ host: host.host, err: again.error }, 'the last look before opening an incident failed; will retry');
      return { action: 'open-failed', incidentId: id };
    }
    if (!incidents || this.deps.config.detector.dryRun) {
      this.wouldOpen += 1;
      this.log.warn({ host: host.host, incidentId: id, dryRun: this.deps.config.detector.dryRun, wouldOpen: this.wouldOpen }, 'would open an incident (nothing opened)');
      return { action: 'would-open-incident', incidentId: id };
    }
    try {
      const { created } = await incidents.open({ id, host: host.host, failureStartedAt, evidence: host.evidence, ...lastSignOfLife(host.evidence) });
      if (created) {
        this.log.warn({ host: host.host, incidentId: id }, 'incident opened');
      } else if (this.toldExisting.get(host.host) !== id) {
        // A closed (say failed) incident for this failure is not reopened; said and paged once, not every round.
        this.toldExisting.set(host.host, id);
        const closed = await incidents.incident(id).catch(() => null);
        const said = `${host.host} is judged dead, but its incident ${id} for this failure is ${closed?.status ?? 'closed'}: it is not reopened and nothing is done (see \`cmpha incidents show ${id}\`)`;
        this.log.warn({ host: host.host, incidentId: id }, 'incident already exists and is not open: not reopened (see `cmpha incidents show`)');
        await this.notify({ type: 'host-suspected', severity: 'critical', host: host.host, incidentId: id, summary: said, details: host.evidence.reasons.join('\n'), at: ctx.at });
      } else {
        this.log.debug({ host: host.host, incidentId: id }, 'incident already exists');
      }
      return { action: created ? 'open-incident' : 'incident-exists', incidentId: id };
    } catch (err) {
      this.log.error({ host: host.host, incidentId: id, err: errorMessage(err) }, 'opening the incident failed; will retry next round');
      return { action: 'open-failed', incidentId: id };
    }
  }

  /** Guards, then actions, then alerts, for every host's latest report. */
  async act(reports: readonly HostReport[], ctx: ActContext): Promise<ActResult> {
    const isolated = ctx.isolationReason !== null;
    const blind = isolated || ctx.blindReason !== null;
    this.blind = blind;
    const leader = await this.leadership(blind);
    const open = await this.openIncidents();
    const recent = blind ? [] : await this.recentIncidents(ctx.at);
    const withIncident = new Set([...(open?.keys() ?? []), ...recent.filter((r) => r.at >= ctx.at - STORM_WINDOW_MS).map((r) => r.host)]);
    const d = this.deps.config.detector;
    const entries = await this.disarms();
    const needGroups = (entries ?? []).some((e) => e.scope.kind === 'aggregate') || d.maxRecoveries !== undefined || d.maxAggregateFailures !== undefined;
    const groups = await this.groups(ctx.at, needGroups);
    const zones = new Map(reports.map((r) => [r.host, r.zone]));
    const placeOf = (host: string): HostPlace => ({ host, zone: zones.get(host) ?? null, groups: groups === null ? null : groups.get(host) ?? [] });
    const holds = this.holds(reports, entries, placeOf, await this.segmentHolds());
    const cascade = evaluateCascade({
      recent, open: [...(open?.keys() ?? [])], now: ctx.at, zoneOf: (h) => zones.get(h) ?? null, groupsOf: (h) => groups?.get(h) ?? [],
      // A host held back is not going to be recovered: it is not one more recovery.
      dead: reports.filter((r) => r.verdict === 'dead' && !open?.has(r.host) && !holds.has(r.host)).map((r) => r.host),
    }, { ...(d.maxRecoveries ? { maxRecoveries: d.maxRecoveries } : {}), ...(d.maxAggregateFailures !== undefined ? { maxAggregateFailures: d.maxAggregateFailures } : {}) });
    const { step, report: stormBrake } = await this.brake(reports, leader, blind, ctx.at, ctx.isolationReason ?? ctx.blindReason, withIncident, cascade);
    const disarms = await this.disarmViews(entries, open, placeOf, leader, ctx.at);
    const acted: HostReport[] = [];
    const recheckedAlive: string[] = [];
    const cameBack: string[] = [];
    for (const r of reports) {
      const dec = await this.decide(r, { ...ctx, leader, brakeActive: stormBrake.active, open, hold: holds.get(r.host) });
      if (dec.alive) recheckedAlive.push(r.host);
      if (dec.cameBack) cameBack.push(r.host);
      acted.push({ ...r, action: dec.action, ...(dec.incidentId ? { incidentId: dec.incidentId } : {}), ...(dec.held ? { held: dec.held } : {}) });
    }

    // Host alerts come from the leader only, so replicas do not page twice; a replica that is cut off or blind
    // says so whatever its role, since that is news about the replica itself.
    const events = this.alerts.events(acted, ctx.at);
    if (isolated && !this.wasIsolated) {
      await this.notify({ type: 'controller-isolated', severity: 'critical', summary: `cmpha is cut off and opens no incidents: ${ctx.isolationReason}`, at: ctx.at });
      this.log.error({ reason: ctx.isolationReason }, 'controller isolated: opening nothing');
    }
    if (!isolated && this.wasIsolated) this.log.info('controller can see the cloud again');
    const isBlind = ctx.blindReason !== null;
    if (isBlind && !this.wasBlind) {
      await this.notify({ type: 'controller-isolated', severity: 'critical', summary: `cmpha is blind and opens no incidents: ${ctx.blindReason}`, at: ctx.at });
      this.log.error({ reason: ctx.blindReason }, 'detector blind: opening nothing');
    }
    if (!isBlind && this.wasBlind) this.log.info('Nova lists compute services again');
    if (leader) {
      if (step?.alert) {
        await this.notify({ type: 'storm-brake', severity: 'critical', summary: `storm brake on, no incidents opened: ${step.state.reason}`,
          details: 'Resolve the cause, or run `cmpha resume` to let the current hosts through.', at: ctx.at });
      }
      for (const e of events) {
        // A dead agent on a live host: restart it first; the remediator pages if that does not bring it back.
        if (e.type === 'agent-down' && e.host && !this.deps.config.detector.dryRun && this.deps.healer?.handles(e.host)) {
          const mgmtIp = acted.find((r) => r.host === e.host)?.evidence.mgmt.ip ?? null;
          this.deps.healer.start(e.host, mgmtIp, e);
          continue;
        }
        await this.notify(e);
      }
    }
    if (step?.alert) this.log.error({ reason: step.state.reason }, 'storm brake on: opening no incidents');
    if (step?.released) this.log.info('storm brake released');
    this.wasIsolated = isolated;
    this.wasBlind = isBlind;
    return { leader, stormBrake, hosts: acted, recheckedAlive, cameBack, disarms };
  }

  async release(): Promise<void> {
    if (!this.lease) return;
    try {
      await this.lease.release();
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'cannot release the leader lease; it lapses on its own');
    }
  }
}

/**
 * What shows the host alive in an observation made after `since` (an incident's opening): an address answering
 * now, or a heartbeat Nova's updated_at showed since then (an admin write is none). Null when nothing does.
 */
export function signsOfLife(e: HostEvidence, since: number, names: CloudNames = NOVA_NAMES): string | null {
  if (e.at < since) return null;
  const seen: string[] = [];
  for (const n of e.networks) if (n.result === 'alive') seen.push(`${n.role === 'mgmt' ? 'management' : n.role} IP ${n.ip} answers`);
  if (e.instances.answered > 0) seen.push(`${e.instances.answered} instance address(es) answer`);
  if (e.storage?.alive === true) seen.push(`storage: ${e.storage.detail}`);
  if (e.nova.lastBeatAt !== null && e.nova.lastBeatAt >= since) {
    seen.push(`${names.cloud}'s heartbeat moved (updated_at ${e.nova.updatedAt ?? '?'}, seen at ${new Date(e.nova.lastBeatAt).toISOString()})`);
  }
  return seen.length > 0 ? seen.join('; ') : null;
}

/** The host's last sign of life: any of its addresses or one of its instance addresses answering, whichever was later. */
export function lastSignOfLife(e: HostEvidence): { lastAliveAt?: number } {
  const seen = [e.mgmt.lastAliveAt, ...e.instances.addresses.map((a) => a.lastAnsweredAt ?? null)].filter((t): t is number => t !== null);
  return seen.length > 0 ? { lastAliveAt: Math.max(...seen) } : {};
}
