import { CmphaError } from '../shared/errors.js';
import { parseDuration } from '../shared/duration.js';

// Disarm and arm: an operator takes a host, an aggregate, a zone or the whole cloud out of HA for a while. While a
// scope is disarmed the detector still observes, judges and reports every host in it, and opens no incident for
// them: nothing is fenced or evacuated. Pure rules here; disarm-store.ts keeps the state in Redis.
//
// The gate sits where incidents are opened (act.ts), not in the fence step: an incident that was opened is a
// recovery under way, and stopping it between the fence and the evacuation would leave a powered-off host with
// its servers on it (half a recovery). So a disarm never touches an incident in flight: it holds new ones back at
// once and says it is pending until the incidents in its scope have ended (Proxmox's disarm-ha defers the same way
// while a fence or a recovery runs).

export type DisarmScopeKind = 'host' | 'aggregate' | 'zone' | 'all';

export interface DisarmScope {
  readonly kind: DisarmScopeKind;
  /** The host, aggregate or zone name; '' for `all`. */
  readonly name: string;
}

export interface DisarmEntry {
  readonly scope: DisarmScope;
  readonly reason: string;
  /** Who asked (CLI user, API token). */
  readonly by: string;
  /** When it was asked (epoch ms). */
  readonly at: number;
  /** When the operator means to arm it again (epoch ms); past it, the disarm is overdue (gauge, alert). */
  readonly until: number | null;
}

/** One line of the audit list: every disarm and arm, with who, when and why. */
export interface DisarmAudit {
  readonly action: 'disarm' | 'arm' | 'in-effect';
  readonly scope: DisarmScope;
  readonly by: string;
  readonly at: number;
  readonly reason: string;
  readonly until?: number | null;
}

/** Where a host sits: its zone and its placement groups (Nova: host aggregates). */
export interface HostPlace {
  readonly host: string;
  readonly zone: string | null;
  /** Null when the groups could not be read: an aggregate scope then neither covers the host nor leaves it out. */
  readonly groups: readonly string[] | null;
}

/** The Redis hash field and the metric label of a scope: `host:compute1`, `zone:az1`, `aggregate:gpu`, `all`. */
export function scopeKey(s: DisarmScope): string {
  return s.kind === 'all' ? 'all' : `${s.kind}:${s.name}`;
}

export function describeScope(s: DisarmScope): string {
  return s.kind === 'all' ? 'the whole cloud' : `${s.kind} ${s.name}`;
}

/** The scope named by exactly one of --host, --aggregate, --zone, --all (CLI options, API body fields). */
export function scopeOf(o: { host?: unknown; aggregate?: unknown; zone?: unknown; all?: unknown }): DisarmScope {
  const given: DisarmScope[] = [];
  for (const kind of ['host', 'aggregate', 'zone'] as const) {
    const v = o[kind];
    if (v === undefined || v === null || v === false) continue;
    if (typeof v !== 'string' || v.trim() === '') throw new CmphaError('bad_disarm_scope', `${kind} must be a non-empty name`);
    given.push({ kind, name: v.trim() });
  }
  if (o.all === true) given.push({ kind: 'all', name: '' });
  if (given.length !== 1) {
    throw new CmphaError('bad_disarm_scope', `name exactly one scope: host, aggregate, zone or all (got ${given.length === 0 ? 'none' : given.map(scopeKey).join(', ')})`);
  }
  return given[0]!;
}

/**
 * `--until`: an ISO 8601 time, or a duration from `now` (`2h`, `90m`). Must lie in the future. Null when absent.
 */
export function parseUntil(text: string | undefined | null, now: number): number | null {
  if (text === undefined || text === null || text.trim() === '') return null;
  const t = text.trim();
  const rel = parseDuration(t, 's');
  const at = rel !== undefined && !/^\d+$/.test(t) ? now + rel : /\d{4}-\d\d-\d\d/.test(t) ? Date.parse(t) : Number.NaN;
  if (Number.isNaN(at)) throw new CmphaError('bad_until', `until "${t}" is neither an ISO 8601 time (2026-12-08T06:00:00Z) nor a duration (2h, 90m)`);
  if (at <= now) throw new CmphaError('bad_until', `until "${t}" is not in the future (${new Date(at).toISOString()})`);
  return at;
}

/**
 * Whether a disarm covers a host. An aggregate scope covers a host only when its groups are known and name the
 * aggregate; when they could not be read the caller treats the host as covered (see `disarmOf`).
 */
export function covers(s: DisarmScope, p: HostPlace): boolean | null {
  switch (s.kind) {
    case 'all': return true;
    case 'host': return p.host === s.name;
    case 'zone': return p.zone === s.name;
    case 'aggregate': return p.groups === null ? null : p.groups.includes(s.name);
  }
}

/**
 * The disarm that holds a host back, or null. A host whose aggregates could not be read while an aggregate is
 * disarmed is held back too (the safe side of a maintenance window: the operator asked for hands off).
 */
export function disarmOf(entries: readonly DisarmEntry[], p: HostPlace): DisarmEntry | null {
  for (const e of entries) {
    const c = covers(e.scope, p);
    if (c === true || c === null) return e;
  }
  return null;
}

/** A disarm as shown: in effect, or pending until the incidents in its scope end. */
export interface DisarmView extends DisarmEntry {
  readonly key: string;
  readonly state: 'in-effect' | 'pending';
  /** Open incidents in the scope that run to their end before the disarm is in effect. */
  readonly pendingOn: readonly string[];
  /** Past its `until` or older than the configured limit: why, else null. */
  readonly overdue: string | null;
}

/** Why a disarm should have been armed again by now, or null. */
export function overdue(e: DisarmEntry, now: number, limitMs: number): string | null {
  if (e.until !== null && now > e.until) return `past its until (${new Date(e.until).toISOString()})`;
  if (now - e.at > limitMs) return `disarmed for more than the limit ([detector] disarm_limit, ${Math.round(limitMs / 60_000)} min)`;
  return null;
}

/**
 * Each disarm with the open incidents it waits for (those whose host it covers). `placeOf` knows the hosts'
 * zones and groups; an open incident whose host it cannot place is waited for (it may be in the scope).
 */
export function viewDisarms(
  entries: readonly DisarmEntry[], open: readonly { id: string; host: string }[], placeOf: (host: string) => HostPlace, now: number, limitMs: number,
): DisarmView[] {
  return entries.map((e) => {
    const pendingOn = open.filter((i) => covers(e.scope, placeOf(i.host)) !== false).map((i) => i.id).sort();
    return { ...e, key: scopeKey(e.scope), state: pendingOn.length > 0 ? 'pending' : 'in-effect', pendingOn, overdue: overdue(e, now, limitMs) };
  });
}

/** One sentence for the CLI, the API and the log. */
export function describeDisarm(v: DisarmView): string {
  const until = v.until === null ? '' : ` until ${new Date(v.until).toISOString()}`;
  const state = v.state === 'pending' ? `pending until incident${v.pendingOn.length > 1 ? 's' : ''} ${v.pendingOn.join(', ')} end${v.pendingOn.length > 1 ? '' : 's'} (no new incident is opened meanwhile)` : 'in effect';
  return `${describeScope(v.scope)} disarmed by ${v.by} at ${new Date(v.at).toISOString()}${until}: ${v.reason}; ${state}${v.overdue ? `; OVERDUE: ${v.overdue}` : ''}`;
}
