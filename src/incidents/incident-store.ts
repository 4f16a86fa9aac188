import type { Redis } from 'ioredis';
import type { DeliveryRecord } from '../notifier/types.js';
import { CmphaError } from '../shared/errors.js';
import type { Leadership } from '../leadership/leadership.js';
import { systemClock, type Clock } from '../shared/time.js';
import { incidentKeys, type IncidentKeys } from './keys.js';
import { checkInstanceMove, INITIAL_INSTANCE_STATES, type InstanceEvent, type InstancePatch } from './instance-transitions.js';
import { checkTransition, nextStatus, type IncidentEvent } from './transitions.js';
import { ADD_ENTRIES, CAS_INCIDENT, CAS_INSTANCE, CLAIM, CREATE_INCIDENT, PUSH_ENTRIES, RELEASE } from './scripts.js';
import {
  instanceOrder, isTerminalStatus,
  type Incident,
  type IncidentRecord,
  type InstanceEntry,
  type NewInstance,
  type OpenIncidentRequest,
  type OpenOptions,
  type TimelineEntry,
} from './types.js';

const MAX_CAS_TRIES = 50;

export type OpenResult = { created: true } | { created: false; reason: 'exists' | 'host-busy'; existingId: string | null };

/** A timeline entry as a writer gives it: the store stamps `at` when it is absent. */
export type TimelineInput = Omit<TimelineEntry, 'at'> & { at?: number };

/** What a recovery's writes are checked against (see `forRecovery`). */
interface RecoveryWrites {
  readonly leadership?: Leadership;
}

/**
 * The steps whose timeline entries a closed incident still takes from its recovery: the delivery of its closing
 * notice (sent after the close, since what it says depends on how the incident ended), and its host's return
 * after repair (src/pipeline/host-return.ts), which can only come after the close.
 */
const AFTER_CLOSE_STEPS: ReadonlySet<string> = new Set(['notify', 'return']);

/**
 * Durable incident records in Redis. The record is the truth; queue jobs carry only ids. Every
 * read-modify-write is a compare-and-set on a revision number, so concurrent writers never lose each
 * other's changes: the loser re-reads and re-applies its change.
 */
export class IncidentStore {
  private readonly keys: IncidentKeys;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly clock: Clock = systemClock,
    private readonly recovery?: RecoveryWrites,
  ) {
    this.keys = incidentKeys(prefix);
  }

  /**
   * The same store as a recovery writes through it (every StepContext's store):
   * - before every write, `leadership` (when given) must confirm this controller still leads: a deposed
   *   controller writes nothing, records included (the check is one Redis round trip before the write, as
   *   for Nova calls; the closed-incident check below is atomic with the write and catches the rest);
   * - once the incident is closed, its instance entries and timeline take nothing more (refused atomically,
   *   error code `incident_closed`), except the timeline entries of the `notify` step, its delivery records
   *   and the `notified` list of its record: the closing notice is sent after the close and says so. The
   *   close's own timeline note is written with the close (`update`'s `timeline`), not after it.
   * Operators' writes (acknowledgements, API and CLI notes) go through the plain store and are not limited.
   */
  forRecovery(leadership?: Leadership): IncidentStore {
    return new IncidentStore(this.redis, this.prefix, this.clock, leadership ? { leadership } : {});
  }

  /** A recovery's writes only while this controller leads (see `forRecovery`). */
  private async mayWrite(): Promise<void> {
    await this.recovery?.leadership?.assertLeading();
  }

  private refusedClosed(id: string, what: string): CmphaError {
    return new CmphaError('incident_closed', `incident ${id} is closed: its record takes no more entries (${what} refused)`, { context: { incidentId: id } });
  }

  async create(req: OpenIncidentRequest, opts: OpenOptions = {}): Promise<OpenResult> {
    validateId(req.id);
    if (!req.host) throw new CmphaError('incident_invalid', `incident ${req.id}: host is empty`);
    const now = this.clock.now();
    const record: IncidentRecord = {
      rev: 1,
      id: req.id,
      host: req.host,
      status: 'open',
      origin: opts.origin ?? 'detector',
      failureStartedAt: req.failureStartedAt,
      ...(req.lastAliveAt !== undefined ? { lastAliveAt: req.lastAliveAt } : {}),
      openedAt: now,
      updatedAt: now,
      evidence: req.evidence ?? null,
      notified: [],
      ...(opts.requestedTarget ? { requestedTarget: opts.requestedTarget } : {}),
    };
    const k = this.keys;
    const r = await this.redis.eval(CREATE_INCIDENT, 4, k.record(req.id), k.openForHost(req.host), k.index, k.active,
      req.id, JSON.stringify(record), String(now));
    if (r === 1) {
      await this.addTimeline(req.id, {
        step: 'open', level: 'warning',
        message: opts.origin === 'operator'
          ? `incident opened on operator request for host ${req.host}`
          : `incident opened: host ${req.host} confirmed dead`,
      });
      return { created: true };
    }
    if (r === 0) return { created: false, reason: 'exists', existingId: req.id };
    return { created: false, reason: 'host-busy', existingId: await this.openIncidentFor(req.host) };
  }

  /** Creates the record only (no recovery is queued): what tests and `createIncidentOpener` build on. */
  async open(req: OpenIncidentRequest): Promise<{ created: boolean }> {
    const r = await this.create(req);
    return { created: r.created };
  }

  async hasOpenIncident(host: string): Promise<boolean> {
    return (await this.openIncidentFor(host)) !== null;
  }

  async openIncidentFor(host: string): Promise<string | null> {
    return this.redis.get(this.keys.openForHost(host));
  }

  async getRecord(id: string): Promise<IncidentRecord | null> {
    const raw = await this.redis.get(this.keys.record(id));
    return raw === null ? null : (JSON.parse(raw) as IncidentRecord);
  }

  async require(id: string): Promise<IncidentRecord> {
    const r = await this.getRecord(id);
    if (!r) throw new CmphaError('incident_not_found', `no incident with id ${id}`);
    return r;
  }

  async get(id: string): Promise<Incident | null> {
    const k = this.keys;
    const res = await this.redis.multi()
      .get(k.record(id))
      .hgetall(k.instances(id))
      .lrange(k.timeline(id), 0, -1)
      .lrange(k.deliveries(id), 0, -1)
      .exec();
    if (!res) return null;
    const [rec, inst, tl, dl] = res.map(([err, v]) => {
      if (err) throw err;
      return v;
    });
    if (rec === null) return null;
    const instances = Object.values(inst as Record<string, string>).map((s) => JSON.parse(s) as InstanceEntry);
    instances.sort(instanceOrder);
    return {
      ...(JSON.parse(rec as string) as IncidentRecord),
      instances,
      timeline: (tl as string[]).map((s) => JSON.parse(s) as TimelineEntry),
      deliveries: (dl as string[]).map((s) => JSON.parse(s) as DeliveryRecord),
    };
  }

  /** Newest first. */
  async list(opts: { limit?: number } = {}): Promise<IncidentRecord[]> {
    const ids = await this.redis.zrevrange(this.keys.index, 0, (opts.limit ?? 100) - 1);
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(ids.map((id) => this.keys.record(id)));
    return raws.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as IncidentRecord);
  }

  /** Ids of incidents not yet closed, oldest first. */
  async activeIds(): Promise<string[]> {
    return (await this.activeRecords()).map((r) => r.id);
  }

  /** Records of incidents opened at or after `at` (epoch ms), oldest first, whatever their status. */
  async openedSince(at: number): Promise<IncidentRecord[]> {
    const ids = await this.redis.zrangebyscore(this.keys.index, at, '+inf');
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(ids.map((id) => this.keys.record(id)));
    return raws.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as IncidentRecord);
  }

  /** Records of incidents not yet closed, oldest first (one SMEMBERS and one MGET). */
  async activeRecords(): Promise<IncidentRecord[]> {
    const ids = await this.redis.smembers(this.keys.active);
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(ids.map((id) => this.keys.record(id)));
    return raws
      .filter((r): r is string => r !== null)
      .map((r) => JSON.parse(r) as IncidentRecord)
      .filter((r) => !isTerminalStatus(r.status))
      .sort((a, b) => a.openedAt - b.openedAt);
  }

  /**
   * Applies `change` atomically. `change` may run more than once (on a conflicting write) and must be a
   * pure function of the record it is given; returning undefined means "nothing to change".
   * Closing (a terminal status) releases the host for a new incident. A closed incident keeps its status.
   * A status change is checked against the transition table (src/incidents/transitions.ts), under `event`
   * when given: an illegal one is an error naming both states.
   */
  async update(
    id: string,
    change: (r: IncidentRecord) => IncidentRecord | undefined,
    event?: IncidentEvent,
    opts: { readonly timeline?: readonly TimelineInput[] } = {},
  ): Promise<IncidentRecord> {
    const k = this.keys;
    for (let i = 0; i < MAX_CAS_TRIES; i++) {
      const cur = await this.require(id);
      const proposed = change(cur);
      if (proposed === undefined) return cur;
      if (isTerminalStatus(cur.status) && proposed.status !== cur.status) {
        throw new CmphaError('incident_closed', `incident ${id} is already ${cur.status}; it cannot become ${proposed.status}`);
      }
      if (this.recovery && isTerminalStatus(cur.status) && JSON.stringify({ ...proposed, notified: cur.notified }) !== JSON.stringify(cur)) {
        throw this.refusedClosed(id, 'a change of its record other than the notices sent');
      }
      checkTransition(id, cur.status, proposed.status, event);
      const now = this.clock.now();
      const terminal = isTerminalStatus(proposed.status);
      const next: IncidentRecord = {
        ...proposed,
        rev: cur.rev + 1,
        updatedAt: now,
        ...(terminal && cur.closedAt === undefined ? { closedAt: now } : {}),
      };
      const notes = (opts.timeline ?? []).map((e) => JSON.stringify({ ...e, at: e.at ?? now }));
      await this.mayWrite();
      const r = await this.redis.eval(CAS_INCIDENT, 4, k.record(id), k.openForHost(cur.host), k.active, k.timeline(id),
        String(cur.rev), JSON.stringify(next), terminal ? '1' : '0', id, ...notes);
      if (r === 1) return next;
      if (r === -1) throw new CmphaError('incident_not_found', `no incident with id ${id}`);
    }
    throw new CmphaError('incident_contended', `incident ${id}: gave up after ${MAX_CAS_TRIES} conflicting writes`, { retryable: true });
  }

  /**
   * Applies `event` when the table allows it in the current status (with `patch`'s fields); otherwise changes
   * nothing and says so (`changed: false`), which is what a re-run after a crash wants.
   */
  async transition(
    id: string,
    event: IncidentEvent,
    patch: (r: IncidentRecord) => Partial<IncidentRecord> = () => ({}),
  ): Promise<{ record: IncidentRecord; changed: boolean }> {
    let changed = false;
    const record = await this.update(id, (r) => {
      const to = nextStatus(r.status, event);
      changed = to !== undefined;
      return to === undefined ? undefined : { ...r, ...patch(r), status: to };
    }, event);
    return { record, changed };
  }

  async addTimeline(id: string, ...entries: TimelineInput[]): Promise<void> {
    if (entries.length === 0) return;
    const now = this.clock.now();
    const json = entries.map((e) => JSON.stringify({ ...e, at: e.at ?? now }));
    if (!this.recovery) {
      await this.redis.rpush(this.keys.timeline(id), ...json);
      return;
    }
    await this.mayWrite();
    const onlyOpen = entries.some((e) => !AFTER_CLOSE_STEPS.has(e.step));
    const r = await this.redis.eval(PUSH_ENTRIES, 2, this.keys.record(id), this.keys.timeline(id), onlyOpen ? '1' : '0', ...json);
    if (r === -2) throw this.refusedClosed(id, `timeline entry "${entries[0]!.step}: ${entries[0]!.message}"`);
  }

  /** Delivery records of a notice; after the close too (the closing notice). */
  async addDeliveries(id: string, records: readonly DeliveryRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.mayWrite();
    await this.redis.rpush(this.keys.deliveries(id), ...records.map((r) => JSON.stringify(r)));
  }

  /** Adds entries for servers not yet recorded; existing entries (and their progress) are kept. */
  async addInstances(id: string, entries: readonly NewInstance[]): Promise<void> {
    if (entries.length === 0) return;
    const pairs: string[] = [];
    for (const e of entries) {
      if (e.state !== undefined && !INITIAL_INSTANCE_STATES.includes(e.state)) {
        throw new CmphaError('instance_illegal_transition', `incident ${id} server ${e.id}: an entry is recorded pending or skipped, not ${e.state}`);
      }
      const full: InstanceEntry = { ...e, rev: 1, attempts: 0, state: e.state ?? 'pending' };
      pairs.push(e.id, JSON.stringify(full));
    }
    await this.mayWrite();
    const r = await this.redis.eval(ADD_ENTRIES, 2, this.keys.record(id), this.keys.instances(id), this.recovery ? '1' : '0', ...pairs);
    if (r === -2) throw this.refusedClosed(id, `${entries.length} new instance entr${entries.length === 1 ? 'y' : 'ies'}`);
  }

  async getInstance(id: string, serverId: string): Promise<InstanceEntry | null> {
    const raw = await this.redis.hget(this.keys.instances(id), serverId);
    return raw === null ? null : (JSON.parse(raw) as InstanceEntry);
  }

  async listInstances(id: string): Promise<InstanceEntry[]> {
    const all = await this.redis.hgetall(this.keys.instances(id));
    return Object.values(all)
      .map((s) => JSON.parse(s) as InstanceEntry)
      .sort(instanceOrder);
  }

  /**
   * The one write of an instance entry: a compare-and-set that applies `event` through the per-server table
   * (src/incidents/instance-transitions.ts) with `change`'s fields. `change` may run more than once (on a
   * conflicting write) and must be a pure function of the entry it is given; undefined means "nothing to
   * write". A move the table does not allow from the entry's current state is refused with an error naming
   * both states, and nothing is written.
   */
  async updateInstance(
    id: string,
    serverId: string,
    event: InstanceEvent,
    change: InstancePatch | ((e: InstanceEntry) => InstancePatch | undefined),
  ): Promise<InstanceEntry> {
    const key = this.keys.instances(id);
    for (let i = 0; i < MAX_CAS_TRIES; i++) {
      const cur = await this.getInstance(id, serverId);
      if (!cur) throw new CmphaError('instance_not_found', `incident ${id} has no entry for server ${serverId}`);
      const patch = typeof change === 'function' ? change(cur) : change;
      if (patch === undefined) return cur;
      const state = checkInstanceMove(id, serverId, cur.state, event);
      const next: InstanceEntry = { ...cur, ...patch, id: cur.id, state, rev: cur.rev + 1 };
      await this.mayWrite();
      const r = await this.redis.eval(CAS_INSTANCE, 2, key, this.keys.record(id), serverId, String(cur.rev), JSON.stringify(next), this.recovery ? '1' : '0');
      if (r === 1) return next;
      if (r === -2) throw this.refusedClosed(id, `${event} for server ${serverId}`);
    }
    throw new CmphaError('incident_contended', `incident ${id} server ${serverId}: gave up after ${MAX_CAS_TRIES} conflicting writes`, { retryable: true });
  }

  async ack(id: string, by: string): Promise<IncidentRecord> {
    const at = this.clock.now();
    const rec = await this.update(id, (r) => (r.ack ? undefined : { ...r, ack: { by, at } }));
    await this.addTimeline(id, { step: 'ack', level: 'info', message: `acknowledged by ${by}` });
    return rec;
  }

  /** Reserves a spare host for one incident, so two incidents never fill the same spare. */
  async claimSpare(host: string, incidentId: string, ttlMs: number): Promise<boolean> {
    await this.mayWrite();
    return (await this.redis.eval(CLAIM, 1, this.keys.spareClaim(host), incidentId, String(ttlMs))) === 1;
  }

  async releaseSpare(host: string, incidentId: string): Promise<void> {
    await this.mayWrite();
    await this.redis.eval(RELEASE, 1, this.keys.spareClaim(host), incidentId);
  }

  async spareClaimedBy(host: string): Promise<string | null> {
    return this.redis.get(this.keys.spareClaim(host));
  }
}

/** Incident ids end up in BullMQ job ids (no `:`) and Redis keys: keep them plain. */
export function validateId(id: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(id)) {
    throw new CmphaError('incident_invalid', `incident id "${id}" must be 1-128 letters, digits, '.', '_' or '-' (no ':')`);
  }
}
