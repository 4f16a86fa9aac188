import type { Redis } from 'ioredis';
import { IncidentStore } from '../incidents/incident-store.js';
import { CmphaError } from '../shared/errors.js';
import type { IncidentRecord } from '../incidents/types.js';
import { describeScope, viewDisarms, type DisarmAudit, type DisarmEntry, type DisarmScope, type DisarmView, type HostPlace } from './disarm.js';
import { DisarmStore } from './disarm-store.js';

// What `cmpha ha disarm | arm | status` and the API's /v1/ha do: one implementation for both. Needs only Redis:
// the on-call file (cmpha-ops.conf) is enough, as for `cmpha resume`.

/** The place of an open incident's host as its record knows it: the zone of its evidence; aggregates unknown. */
function placeFromRecord(r: IncidentRecord): HostPlace {
  const zone = (r.evidence as { zone?: unknown } | null)?.zone;
  return { host: r.host, zone: typeof zone === 'string' ? zone : null, groups: null };
}

/**
 * Every disarm with the open incidents it waits for. Without `placeOf` the aggregates of an incident's host are
 * not known here, so an aggregate disarm is said to wait for every open incident (the controller, which reads
 * the aggregates, reports the exact view in its round: GET /v1/hosts, cmpha_ha_disarmed).
 */
export async function disarmViews(redis: Redis, prefix: string, now: number, limitMs: number, placeOf?: (host: string) => HostPlace): Promise<DisarmView[]> {
  const [entries, open] = await Promise.all([new DisarmStore(redis, prefix).list(), new IncidentStore(redis, prefix).activeRecords()]);
  const places = new Map(open.map((r) => [r.host, placeOf?.(r.host) ?? placeFromRecord(r)]));
  return viewDisarms(entries, open.map((r) => ({ id: r.id, host: r.host })), (h) => places.get(h) ?? { host: h, zone: null, groups: null }, now, limitMs);
}

export interface DisarmRequest {
  readonly scope: DisarmScope;
  readonly reason: string;
  readonly by: string;
  readonly until: number | null;
  readonly now: number;
}

/**
 * Disarms a scope. New incidents in it are held back from the controller's next round on; incidents already open
 * in it run to their end (the answer names them: the disarm is pending until they end).
 */
export async function disarm(redis: Redis, prefix: string, req: DisarmRequest, limitMs: number): Promise<{ view: DisarmView; replaced: DisarmEntry | null }> {
  if (req.reason.trim() === '') throw new CmphaError('bad_disarm_scope', 'a reason is required: say why HA is disarmed (it is shown to everyone and kept in the audit list)');
  const entry: DisarmEntry = { scope: req.scope, reason: req.reason.trim().slice(0, 500), by: req.by, at: req.now, until: req.until };
  const replaced = await new DisarmStore(redis, prefix).disarm(entry);
  const view = (await disarmViews(redis, prefix, req.now, limitMs)).find((v) => v.scope.kind === req.scope.kind && v.scope.name === req.scope.name);
  return { view: view ?? { ...entry, key: '', state: 'in-effect', pendingOn: [], overdue: null }, replaced };
}

/** Arms a scope again (`all`: every disarm); throws `not_disarmed` when it was not. */
export async function arm(redis: Redis, prefix: string, req: { scope: DisarmScope; by: string; reason: string; now: number }): Promise<DisarmEntry[]> {
  return new DisarmStore(redis, prefix).arm(req.scope, req.by, req.reason.trim() === '' ? `armed ${describeScope(req.scope)}` : req.reason.trim().slice(0, 500), req.now);
}

export async function disarmAudit(redis: Redis, prefix: string, limit: number): Promise<DisarmAudit[]> {
  return new DisarmStore(redis, prefix).audit(limit);
}
