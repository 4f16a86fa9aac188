import type { ComputeBackend, ComputeHost } from '../compute/types.js';
import type { IncidentStore, OpenResult } from '../incidents/incident-store.js';
import { isTerminalStatus, type OpenIncidentRequest } from '../incidents/types.js';
import { incidentOfLock } from '../evacuator/server-locks.js';
import type { NotificationService } from '../notifier/types.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { Clock } from '../shared/time.js';

// A recovery whose incident record is gone (Redis restarted without persistence, or was wiped) leaves its
// host forced down and disabled "cmpha incident ID …", which the detector reads as maintenance and never looks
// at again: its servers would stay on a dead host for good. Nova keeps the evidence, so it is read back here.

/** What is known about one candidate host besides its Nova service. */
export interface OrphanFacts {
  /** Some incident is open for the host now. */
  readonly openIncident: boolean;
  /** The incident named in the disabled reason has a record (open or closed). */
  readonly recordExists: boolean;
  /** Servers Nova lists on the host; null when the list could not be read. */
  readonly servers: number | null;
}

export type OrphanVerdict =
  | { readonly kind: 'orphan'; readonly incidentId: string; readonly disabledAt: number | null }
  | { readonly kind: 'not-orphan'; readonly why: string };

/**
 * Pure rule: a compute host is an orphaned recovery when cmpha disabled it for an incident (its own mark,
 * which the backend parses), it is still isolated, Nova still lists servers on it, no incident is open for the host
 * and the named incident has no record at all. A closed record is not lost: that recovery ended and paged
 * someone. Forced down back to false means an operator is bringing the host back: theirs, not ours.
 */
export function judgeOrphan(svc: Pick<ComputeHost, 'status' | 'isolated' | 'marker'>, facts: OrphanFacts): OrphanVerdict {
  const reason = svc.status === 'disabled' ? svc.marker.incident : null;
  if (!reason) return { kind: 'not-orphan', why: 'not disabled by a cmpha incident' };
  if (!svc.isolated) return { kind: 'not-orphan', why: 'no longer forced down (being brought back)' };
  if (facts.openIncident) return { kind: 'not-orphan', why: 'an incident is open for the host' };
  if (facts.recordExists) return { kind: 'not-orphan', why: `incident ${reason.id} has a record` };
  if (facts.servers === null) return { kind: 'not-orphan', why: 'its servers could not be listed' };
  if (facts.servers === 0) return { kind: 'not-orphan', why: 'no servers left on it' };
  return { kind: 'orphan', incidentId: reason.id, disabledAt: reason.at };
}

export interface ReconcileDeps {
  readonly compute: Pick<ComputeBackend, 'hosts' | 'guestsOn' | 'lockedGuests' | 'unlock'>;
  /** Reads of the incident store, and the timeline and deliveries of a re-opened incident. */
  readonly incidents: Pick<IncidentStore, 'openIncidentFor' | 'getRecord' | 'addTimeline' | 'addDeliveries'>;
  /** Creates the incident record and queues its recovery (idempotent on the id), as the detector's opener does. */
  readonly open: (req: OpenIncidentRequest) => Promise<OpenResult>;
  readonly notifier: NotificationService;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly signal?: AbortSignal;
}

export interface ReconcileResult {
  readonly host: string;
  readonly incidentId: string;
  readonly servers: number;
  readonly resumed: boolean;
}

/**
 * Finds orphaned recoveries in Nova and re-opens each under its original incident id, which queues its
 * recovery again. The re-opened incident has no fence record, so the pipeline reads the power state from
 * the BMC (and powers off if it is not off) before anything else: forced_down and the reason prove that
 * cmpha began a recovery, not that the host is still off now (someone may have powered it on since), and a
 * status read of a host that is off costs a fraction of a second. Reads Nova and Redis; changes nothing else.
 */
export async function reconcileOrphans(deps: ReconcileDeps): Promise<ReconcileResult[]> {
  const { compute, incidents, logger: log, signal } = deps;
  await releaseLeftoverLocks(deps);
  const hosts = await compute.hosts({ signal });
  const out: ReconcileResult[] = [];
  for (const svc of hosts) {
    const named = svc.status === 'disabled' && svc.isolated ? svc.marker.incident : null;
    if (!named) continue;
    const openIncident = (await incidents.openIncidentFor(svc.name)) !== null;
    const recordExists = !openIncident && (await incidents.getRecord(named.id)) !== null;
    let servers: number | null = null;
    if (!openIncident && !recordExists) {
      try {
        servers = (await compute.guestsOn(svc.name, { signal })).length;
      } catch (err) {
        if (signal?.aborted) throw err;
        log.warn({ host: svc.name, incidentId: named.id, err: errorMessage(err) }, 'cannot list the servers of a host cmpha disabled; checking again next time');
      }
    }
    const verdict = judgeOrphan(svc, { openIncident, recordExists, servers });
    if (verdict.kind !== 'orphan') continue;
    const n = servers ?? 0;
    const r = await deps.open({
      id: verdict.incidentId, host: svc.name, failureStartedAt: verdict.disabledAt ?? deps.clock.now(),
      evidence: { orphan: { disabledReason: svc.reason, forcedDown: svc.isolated, foundAt: deps.clock.now() }, serversOnHost: n },
    });
    out.push({ host: svc.name, incidentId: verdict.incidentId, servers: n, resumed: r.created });
    if (!r.created) continue;
    const summary = `recovery of ${svc.name} found again from Nova: its incident record was lost (did Redis restart without persistence?). `
      + `nova-compute is forced down and disabled "${svc.reason}" and Nova lists ${n} server(s) on it; resuming incident ${verdict.incidentId}, `
      + 'reading the power state from the BMC again before anything else';
    log.error({ host: svc.name, incidentId: verdict.incidentId, servers: n }, 'orphaned recovery found in Nova: resuming it');
    await incidents.addTimeline(verdict.incidentId, { step: 'reconcile', level: 'warning', message: summary, data: { servers: n } });
    try {
      const records = await deps.notifier.notify({
        type: 'orphan-resumed', severity: 'warning', host: svc.name, incidentId: verdict.incidentId, summary, at: deps.clock.now(),
      });
      await incidents.addDeliveries(verdict.incidentId, records);
    } catch (err) {
      log.error({ host: svc.name, incidentId: verdict.incidentId, err: errorMessage(err) }, 'notifier failed');
    }
  }
  return out;
}

/**
 * Lifts the locks cmpha took for a recovery that is no longer running (the controller died after locking, or an
 * unlock failed): found by their reason, which names the incident; a lock whose incident is open is the running
 * recovery's, and an owner's lock (any other reason) is never touched. Returns the servers unlocked.
 */
export async function releaseLeftoverLocks(deps: Pick<ReconcileDeps, 'compute' | 'incidents' | 'logger' | 'signal'>): Promise<string[]> {
  const { compute, incidents, logger: log, signal } = deps;
  if (!compute.lockedGuests || !compute.unlock) return [];
  const out: string[] = [];
  for (const g of await compute.lockedGuests({ signal })) {
    const incidentId = incidentOfLock(g.lockedReason);
    if (incidentId === null) continue;
    const rec = await incidents.getRecord(incidentId);
    if (rec !== null && !isTerminalStatus(rec.status)) continue;
    try {
      await compute.unlock(g.id, { signal });
      out.push(g.id);
      log.warn({ serverId: g.id, server: g.name, incidentId, incident: rec?.status ?? 'no record' }, 'lifted a lock cmpha left on a server after its recovery ended');
    } catch (err) {
      if (signal?.aborted) throw err;
      log.warn({ serverId: g.id, incidentId, err: errorMessage(err) }, 'cannot lift a lock cmpha left; trying again next time');
    }
  }
  return out;
}

/**
 * Runs reconcileOrphans every `everyMs` while `isLeader()` (a standby or a controller cut off from the cloud
 * does nothing), never two at once. Its own timer, apart from the detector's round: a slow Nova listing here
 * must not delay detection.
 */
export function startOrphanReconciler(deps: Omit<ReconcileDeps, 'signal'> & { readonly everyMs: number; readonly isLeader: () => boolean }): { stop(): Promise<void> } {
  const ac = new AbortController();
  let running: Promise<void> | null = null;
  const tick = () => {
    if (running || !deps.isLeader()) return;
    running = reconcileOrphans({ ...deps, signal: ac.signal })
      .then(() => undefined, (err: unknown) => {
        if (!ac.signal.aborted) deps.logger.warn({ err: errorMessage(err) }, 'orphaned-recovery check failed; trying again next time');
      })
      .finally(() => { running = null; });
  };
  const timer = setInterval(tick, deps.everyMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      ac.abort();
      await running;
    },
  };
}
