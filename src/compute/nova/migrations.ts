import type { Migration, Server } from '../../openstack/types.js';
import type { LiveMoveState, MoveState } from '../types.js';

// Nova's migration records and task states, judged: where an evacuation (or a live migration) of one server
// stands. Only the Nova adapter reads these; the evacuator asks the port (moveState, whereIs, liveMoveState).

/** Evacuation migration statuses after which nothing more happens. */
export const TERMINAL_MIGRATION = new Set(['done', 'completed', 'error', 'failed', 'cancelled']);
export const SUCCESS_MIGRATION = new Set(['done', 'completed']);

/** Evacuation migrations of this server away from `source`, newest first. */
export function evacuationsFrom(migrations: readonly Migration[], source: string): Migration[] {
  return migrations
    .filter((m) => m.type === 'evacuation' && m.sourceCompute === source)
    .sort((a, b) => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0));
}

/**
 * What Nova says about the server right now, as far as sending an evacuate goes. `computeHosts` is asked only
 * when the server names another host: believed only when Nova lists that host as a compute service, since a
 * garbled host name is no proof it moved. `since`: when cmpha first asked for this evacuation, if it did.
 */
export function inspectMove(server: Server, source: string, migrations: readonly Migration[], computeHosts: ReadonlySet<string> | null | undefined, since: number | undefined): MoveState {
  if (server.host !== null && server.host !== source) {
    if (computeHosts?.has(server.host)) return { kind: 'done', why: `already left ${source} (now on ${server.host})` };
    return { kind: 'busy', why: `Nova names host ${JSON.stringify(server.host)}, ${computeHosts ? 'which is not a nova-compute service it lists' : 'and its compute service list could not be read'}; cannot tell where the server runs` };
  }
  const ours = evacuationsFrom(migrations, source);
  const inFlight = ours.find((m) => !TERMINAL_MIGRATION.has(m.status.toLowerCase()));
  if (inFlight) return { kind: 'in-flight', why: `an evacuation is already in flight (migration ${inFlight.id}, ${inFlight.status})` };
  if (since !== undefined) {
    const done = ours.find((m) => (m.createdAt?.getTime() ?? 0) >= since - 60_000 && m.status.toLowerCase() === 'done');
    if (done) return { kind: 'done', why: `evacuation migration ${done.id} is done` };
  }
  if (server.taskState !== null) return { kind: 'busy', why: `task_state is ${server.taskState}; waiting for it to clear before evacuating` };
  return { kind: 'none' };
}

export type VerifyVerdict =
  | { readonly kind: 'verified'; readonly host: string }
  | { readonly kind: 'failed'; readonly why: string }
  | { readonly kind: 'waiting'; readonly why: string };

/**
 * Pure rule for "this evacuation has finished well": the server runs ACTIVE (or shows `expect`: a stopped
 * server stays SHUTOFF through an evacuation) with no task on a host other
 * than the source, that host is a nova-compute service Nova lists, and the evacuation migration is `done`
 * (or already `completed`). task_state none alone is not enough (Nova once showed it while still on the
 * source), a host change without a finished migration is not enough either, and a host name Nova's service
 * list does not know (a garbled answer) is never believed. Anything short of that is `waiting`: "cannot
 * verify yet", polled again until verify_timeout, then failed.
 *
 * `computeHosts`: the nova-compute hosts Nova lists now; null when that list could not be read (only consulted
 * for a server that reads ACTIVE with no task elsewhere, so the caller need list them only then).
 */
export function judge(server: Server, source: string, latestMigrationStatus: string | undefined, computeHosts: ReadonlySet<string> | null, expect: 'ACTIVE' | 'SHUTOFF' = 'ACTIVE'): VerifyVerdict {
  const mig = latestMigrationStatus?.toLowerCase();
  const moved = server.host !== null && server.host !== source;
  if ((mig === 'error' || mig === 'failed') && !moved) return { kind: 'failed', why: `evacuation migration ${mig}` };
  if (!moved) return { kind: 'waiting', why: `still on ${source} (status ${server.status}, task ${server.taskState ?? 'none'}, migration ${mig ?? 'none'})` };
  if (server.taskState !== null) return { kind: 'waiting', why: `on ${server.host}, task ${server.taskState}` };
  if (server.status === expect) {
    if (computeHosts === null) return { kind: 'waiting', why: `cannot verify: Nova names host ${server.host} but its compute service list could not be read` };
    if (!computeHosts.has(server.host!)) return { kind: 'waiting', why: `cannot verify: Nova names host ${JSON.stringify(server.host)}, which is not a nova-compute service it lists` };
    if (mig !== undefined && SUCCESS_MIGRATION.has(mig)) return { kind: 'verified', host: server.host! };
    return { kind: 'waiting', why: `cannot verify: ${expect} on ${server.host} but the evacuation migration is ${mig ?? 'missing'}, not done` };
  }
  if (server.status === 'ERROR' && (mig === undefined || SUCCESS_MIGRATION.has(mig) || mig === 'error' || mig === 'failed')) {
    return { kind: 'failed', why: `ended in ERROR on ${server.host}` };
  }
  return { kind: 'waiting', why: `on ${server.host}, status ${server.status}` };
}

/** Whether `judge` needs the compute host list: only for a server that reads ACTIVE with no task elsewhere. */
export function looksFinished(server: Server, source: string, expect: 'ACTIVE' | 'SHUTOFF' = 'ACTIVE'): boolean {
  return server.host !== null && server.host !== source && server.taskState === null && server.status === expect;
}

/**
 * How long the evacuation took in Nova's own times, when its migration has both (created = accepted, updated
 * when it went done), so a controller that restarted, or polled late, does not count its own absence;
 * undefined otherwise.
 */
export function migrationDuration(migration: Migration | undefined): number | undefined {
  const created = migration?.createdAt?.getTime();
  const updated = migration?.updatedAt?.getTime();
  if (created !== undefined && updated !== undefined && SUCCESS_MIGRATION.has(migration!.status.toLowerCase()) && updated >= created) {
    return updated - created;
  }
  return undefined;
}

/**
 * A live migration away from `source`: arrived once ACTIVE with no task on another host; stopped when it is
 * still on the source with no task and its latest live migration ended without success (final), or Nova shows
 * none (not final: it may not be listed yet); waiting otherwise.
 */
export function judgeLiveMove(server: Server, source: string, migrations: readonly Migration[]): LiveMoveState {
  const arrived = arrivedLive(server, source);
  if (arrived !== null) return { kind: 'arrived', host: arrived };
  const last = migrations.filter((m) => m.sourceCompute === source)
    .sort((a, b) => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0))[0];
  if (server.host === source && server.taskState === null && (!last || (TERMINAL_MIGRATION.has(last.status) && last.status !== 'completed' && last.status !== 'done'))) {
    return { kind: 'stopped', host: server.host, why: last ? `live migration ${last.status}` : 'Nova shows no live migration', final: last !== undefined };
  }
  return { kind: 'waiting', host: server.host, why: `status ${server.status}, task ${server.taskState ?? 'none'}` };
}

/** The host a live-migrated server runs ACTIVE on with no task, other than `source`; null while it does not. */
export function arrivedLive(server: Server, source: string): string | null {
  return server.host !== source && server.host !== null && server.status === 'ACTIVE' && server.taskState === null ? server.host : null;
}
