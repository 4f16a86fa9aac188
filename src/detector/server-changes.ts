import type { ComputeBackend, ComputeHost, Guest } from '../compute/types.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';

/**
 * How far back each `changes-since` reaches before the newest change already seen. Nova stamps `updated_at`
 * with the clock of whichever API or conductor process wrote the row, and a write stamped just before the
 * newest one seen may commit just after it was read; re-reading this much costs a page, missing it costs a
 * server with no baseline.
 */
export const CHANGES_OVERLAP_MS = 60_000;

/**
 * The servers Nova reports as changed (booted, moved, rebuilt, deleted) since the last look: one
 * `GET /servers/detail?all_tenants=1&changes-since=T` a round. T only ever comes from timestamps Nova wrote
 * (first its services' `updated_at`, then the servers' own `updated`), so a controller clock that is off, by
 * seconds or by hours, changes nothing. A server is reported once per `updated` value, though the overlap
 * lists it again for a while.
 */
export class ServerChangeFeed {
  /** Nova's time to ask from; null until Nova has written a timestamp we could read. */
  private since: number | null = null;
  /** Server id → the `updated` (ms, Nova's clock) already reported; NaN when Nova gave none. */
  private readonly reported = new Map<string, number>();

  constructor(private readonly compute: Pick<ComputeBackend, 'guestsChangedSince'>, private readonly log: Logger, private readonly overlapMs = CHANGES_OVERLAP_MS) {}

  /** The first start point: the newest service `updated_at`, i.e. about "now" on Nova's clock. */
  seed(hosts: readonly ComputeHost[]): void {
    if (this.since !== null) return;
    let newest = -Infinity;
    for (const h of hosts) if (h.heartbeatAt) newest = Math.max(newest, h.heartbeatAt.getTime());
    if (Number.isFinite(newest)) this.since = newest - this.overlapMs;
  }

  /** Servers changed since the last call that were not reported yet; [] before seed() found a time or when Nova fails. */
  async poll(signal?: AbortSignal): Promise<Guest[]> {
    if (this.since === null) return [];
    let servers: Guest[];
    try {
      servers = await this.compute.guestsChangedSince(new Date(this.since), { signal });
    } catch (err) {
      if (signal?.aborted) throw err;
      // The start point stays: the next round asks for the same window, so nothing is lost.
      this.log.warn({ err: errorMessage(err) }, 'cannot list the servers Nova changed lately');
      return [];
    }
    let newest = -Infinity;
    const fresh: Guest[] = [];
    for (const s of servers) {
      const t = s.updatedAt?.getTime() ?? Number.NaN;
      if (Number.isFinite(t)) newest = Math.max(newest, t);
      const before = this.reported.get(s.id);
      if (before === undefined || (before !== t && !(Number.isNaN(before) && Number.isNaN(t)))) fresh.push(s);
      this.reported.set(s.id, t);
    }
    if (Number.isFinite(newest)) this.since = Math.max(this.since, newest - this.overlapMs);
    // Entries older than the window will not be listed again.
    const listed = new Set(servers.map((s) => s.id));
    for (const [id, t] of this.reported) if (Number.isFinite(t) ? t < this.since : !listed.has(id)) this.reported.delete(id);
    return fresh;
  }
}
