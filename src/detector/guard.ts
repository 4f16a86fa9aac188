import type { DetectorConfig } from '../config/types.js';
import type { HostReport, Verdict } from './types.js';

// The storm brake: when many hosts look dead at once, the likelier story is that the controller (or a
// switch between it and them) is broken, and evacuating everything would make it worse. Pure functions here;
// storm-brake-store.ts keeps the state in Redis.

/** Verdicts that count toward a storm: hosts the controller might act on, or would if it trusted itself. */
const COUNTED: ReadonlySet<Verdict> = new Set<Verdict>(['dead', 'suspect', 'unprobeable']);

export interface StormHost {
  readonly host: string;
  readonly zone: string | null;
  readonly verdict: Verdict;
}

/** Hosts whose incident opened this long ago or less count toward the brake even when it has closed. */
export const STORM_WINDOW_MS = 60_000;

/**
 * What the storm brake counts: dead, suspect and unprobeable hosts, and hosts with an incident open or opened
 * within `STORM_WINDOW_MS` (except one aborted because the host was alive). A suspect counts once its silence has lasted `min_silence` or Nova sees no heartbeat
 * from it either: a one-second blip of the controller's own link makes every host suspect for a moment and should
 * not page, while hosts that really fail together are all counted before any of them can be dead (nothing is dead
 * before `min_silence`).
 */
export function stormHosts(reports: readonly HostReport[], minSilenceMs: number, withIncident: ReadonlySet<string> = new Set()): StormHost[] {
  return reports.map((r) => {
    // A host whose incident is open, or was opened within the storm window, is one of the storm's dead whatever it
    // reads now (cmpha's own disable makes it maintenance): else a storm arriving one host at a time never trips.
    if (withIncident.has(r.host)) return { host: r.host, zone: r.zone, verdict: 'dead' };
    const settled = r.evidence.silentForMs >= minSilenceMs || r.evidence.nova.says === 'down' || r.evidence.nova.says === 'stale';
    return { host: r.host, zone: r.zone, verdict: r.verdict === 'suspect' && !settled ? 'healthy' : r.verdict };
  });
}

export interface StormEvaluation {
  readonly tripped: boolean;
  readonly reason: string | null;
  /** Hosts counted toward the storm (dead, suspect, unprobeable), sorted. */
  readonly counted: readonly string[];
}

/**
 * The most dead-or-suspect hosts a zone of `enabled` hosts may have before the fraction trips:
 * `maxDeadFraction × enabled` rounded to the nearest whole host, and never less than one. Rounding is what an
 * operator means by "a third": 0.33 of 6 hosts is 2 hosts, not 1.98 (so 2 of 6 does not trip, 3 of 6 does).
 */
export function fractionLimit(enabled: number, maxDeadFraction: number): number {
  return Math.max(1, Math.round(maxDeadFraction * enabled));
}

/**
 * Trips when the dead-or-suspect hosts are more than `maxDeadHosts` in all, or more than `fractionLimit`
 * of the enabled hosts of any availability zone (the whole cloud when Nova reports no zones). One such host
 * alone never trips the fraction: losing one of two hosts is an ordinary failure, not a storm.
 */
export function evaluateStorm(hosts: readonly StormHost[], config: Pick<DetectorConfig, 'maxDeadHosts' | 'maxDeadFraction'>): StormEvaluation {
  const enabled = hosts.filter((h) => h.verdict !== 'maintenance');
  const counted = enabled.filter((h) => COUNTED.has(h.verdict)).map((h) => h.host).sort();
  const reasons: string[] = [];
  if (counted.length > config.maxDeadHosts) {
    reasons.push(`${counted.length} hosts look dead or suspect (limit max_dead_hosts = ${config.maxDeadHosts})`);
  }
  const zones = new Map<string, { enabled: number; counted: number }>();
  for (const h of enabled) {
    const key = h.zone ?? '';
    const z = zones.get(key) ?? { enabled: 0, counted: 0 };
    z.enabled += 1;
    if (COUNTED.has(h.verdict)) z.counted += 1;
    zones.set(key, z);
  }
  for (const [zone, z] of [...zones].sort(([a], [b]) => a.localeCompare(b))) {
    const limit = fractionLimit(z.enabled, config.maxDeadFraction);
    if (z.counted > limit) {
      const where = zone === '' ? 'the cloud' : `zone ${zone}`;
      reasons.push(`${z.counted} of ${z.enabled} enabled hosts in ${where} look dead or suspect (limit max_dead_fraction = ${config.maxDeadFraction}, ${limit} of ${z.enabled} hosts)`);
    }
  }
  return { tripped: reasons.length > 0, reason: reasons.length > 0 ? reasons.join('; ') : null, counted };
}

export interface BrakeState {
  readonly active: boolean;
  readonly since: number | null;
  readonly reason: string | null;
  /** The critical alert for this storm went out. */
  readonly alerted: boolean;
  /** Hosts an operator let through with `cmpha resume`; a storm that grows beyond them brakes again. */
  readonly resumedHosts: readonly string[] | null;
}

export const RELEASED: BrakeState = { active: false, since: null, reason: null, alerted: false, resumedHosts: null };

export interface BrakeStep {
  readonly state: BrakeState;
  /** Raise the storm-brake alert now (once per storm). */
  readonly alert: boolean;
  /** The brake was on last round and is off now. */
  readonly released: boolean;
  /** An operator's resume lets the current hosts through. */
  readonly overridden: boolean;
  /** The resume request was used (or is moot) and can be cleared. */
  readonly resumeConsumed: boolean;
}

/** Advances the brake by one round. */
export function stepBrake(prev: BrakeState, evaluation: StormEvaluation, resumeRequested: boolean, now: number): BrakeStep {
  if (!evaluation.tripped) {
    return { state: RELEASED, alert: false, released: prev.active, overridden: false, resumeConsumed: resumeRequested };
  }
  const acknowledged = resumeRequested ? evaluation.counted : prev.resumedHosts;
  if (acknowledged && evaluation.counted.every((h) => acknowledged.includes(h))) {
    return {
      state: { active: false, since: null, reason: evaluation.reason, alerted: false, resumedHosts: [...acknowledged] },
      alert: false,
      released: prev.active,
      overridden: true,
      resumeConsumed: resumeRequested,
    };
  }
  return {
    state: { active: true, since: prev.active ? prev.since : now, reason: evaluation.reason, alerted: true, resumedHosts: null },
    alert: !(prev.active && prev.alerted),
    released: false,
    overridden: false,
    resumeConsumed: resumeRequested,
  };
}

/** `<host>-<epoch seconds of the first suspect round>`, safe as a BullMQ job id (no `:`). */
export function incidentId(host: string, failureStartedAt: number): string {
  const safeHost = host.replace(/[^A-Za-z0-9._-]/g, '_');
  return `${safeHost}-${Math.floor(failureStartedAt / 1000)}`;
}

/** A recovery the slow-cascade window counts: an incident opened (not aborted) for `host` at `at`. */
export interface CountedRecovery {
  readonly host: string;
  readonly at: number;
}

export interface CascadeLimits {
  /** At most `count` recoveries per zone and per aggregate in any `windowMs`. */
  readonly maxRecoveries?: { readonly count: number; readonly windowMs: number };
  /** At most this many hosts of one aggregate dead or recovering at once. */
  readonly maxAggregateFailures?: number;
}

export interface CascadeInput {
  /** Incidents opened within the window (or earlier: those are not counted), aborted ones left out. */
  readonly recent: readonly CountedRecovery[];
  /** Hosts with an incident open now (the aggregate cap counts them whenever they opened). */
  readonly open: readonly string[];
  /** Hosts judged dead now that no incident covers yet: each would be one more recovery. */
  readonly dead: readonly string[];
  /** The zone and the aggregates of a host (null: not known). */
  readonly zoneOf: (host: string) => string | null;
  readonly groupsOf: (host: string) => readonly string[];
  readonly now: number;
}

/**
 * Slow cascades: one host lost every few minutes never makes many dead at once, and a host cmpha failed over
 * reads as maintenance, so the storm brake alone never sees it. Counted per zone and per aggregate: the recoveries
 * whose incident opened within the window (`at > now - window`: one opened exactly a window ago no longer counts)
 * plus the hosts dead now; more than `count` trips. The aggregate cap counts hosts dead or recovering now,
 * whenever their incident opened (InstanceHA's per-aggregate threshold). `counted` are the hosts of every scope
 * that tripped, so `cmpha resume` lets exactly those through.
 */
export function evaluateCascade(input: CascadeInput, limits: CascadeLimits): StormEvaluation {
  const reasons: string[] = [];
  const counted = new Set<string>();
  const scopes = (host: string): string[] => {
    const z = input.zoneOf(host);
    return [...(z ? [`zone ${z}`] : []), ...input.groupsOf(host).map((g) => `aggregate ${g}`)];
  };
  const tally = (hosts: readonly string[]): Map<string, Set<string>> => {
    const by = new Map<string, Set<string>>();
    for (const h of hosts) for (const s of scopes(h)) by.set(s, (by.get(s) ?? new Set()).add(h));
    return by;
  };
  const w = limits.maxRecoveries;
  if (w) {
    const inWindow = input.recent.filter((r) => r.at > input.now - w.windowMs).map((r) => r.host);
    for (const [scope, hosts] of [...tally([...inWindow, ...input.dead])].sort(([a], [b]) => a.localeCompare(b))) {
      if (hosts.size <= w.count) continue;
      reasons.push(`${hosts.size} recoveries in ${scope} within ${Math.round(w.windowMs / 60_000)} min (limit max_recoveries = ${w.count} per ${Math.round(w.windowMs / 60_000)}m): ${[...hosts].sort().join(', ')}`);
      for (const h of hosts) counted.add(h);
    }
  }
  const cap = limits.maxAggregateFailures;
  if (cap !== undefined) {
    const byGroup = new Map<string, Set<string>>();
    for (const h of [...input.open, ...input.dead]) for (const g of input.groupsOf(h)) byGroup.set(g, (byGroup.get(g) ?? new Set()).add(h));
    for (const [g, hosts] of [...byGroup].sort(([a], [b]) => a.localeCompare(b))) {
      if (hosts.size <= cap) continue;
      reasons.push(`${hosts.size} hosts of aggregate ${g} dead or recovering (limit max_aggregate_failures = ${cap}): ${[...hosts].sort().join(', ')}`);
      for (const h of hosts) counted.add(h);
    }
  }
  return { tripped: reasons.length > 0, reason: reasons.length > 0 ? reasons.join('; ') : null, counted: [...counted].sort() };
}

/** Both brakes as one: tripped when either is, with both reasons and every host either counts. */
export function mergeEvaluations(a: StormEvaluation, b: StormEvaluation): StormEvaluation {
  const reason = [a.reason, b.reason].filter((r): r is string => r !== null).join('; ');
  return { tripped: a.tripped || b.tripped, reason: reason === '' ? null : reason, counted: [...new Set([...a.counted, ...b.counted])].sort() };
}
