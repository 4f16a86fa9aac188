import type { IncidentStore, OpenResult } from './incident-store.js';
import type { ExistingIncident, IncidentOpener, IncidentRecord, OpenIncidentRequest, OpenOptions } from './types.js';

export interface IncidentOpenerDeps {
  readonly store: IncidentStore;
  /** Queues the recovery of an incident; idempotent on the id. */
  readonly submit: (incidentId: string) => Promise<void>;
  /**
   * Closes an incident that waits for a fence because its host came back (`seen` says how), with its notice;
   * false when it no longer waited. The recovery's own close, so the notice and metrics are the usual ones.
   */
  readonly abortWaiting: (incidentId: string, seen: string) => Promise<boolean>;
  /** Called once per incident actually created (metrics). */
  readonly onCreated?: (incidentId: string) => void;
}

export interface RecoveryOpener extends IncidentOpener {
  create(req: OpenIncidentRequest, opts?: OpenOptions): Promise<OpenResult>;
}

const view = (r: IncidentRecord | null): ExistingIncident | null => (r ? { id: r.id, host: r.host, status: r.status, openedAt: r.openedAt } : null);

/**
 * Opening an incident, as the detector and the CLI do it: write the record (one per host), then queue its
 * recovery. Submitting again for an id that exists is harmless and heals a crash between the two.
 */
export function createIncidentOpener(deps: IncidentOpenerDeps): RecoveryOpener {
  const { store } = deps;
  const create = async (req: OpenIncidentRequest, opts?: OpenOptions): Promise<OpenResult> => {
    const r = await store.create(req, opts);
    if (r.created) deps.onCreated?.(req.id);
    if (r.created || r.reason === 'exists') await deps.submit(req.id);
    return r;
  };
  return {
    create,
    openIncidents: async () => (await store.activeRecords()).map((r) => view(r)!),
    openedSince: async (at) => (await store.openedSince(at)).map((r) => view(r)!),
    incident: async (id) => view(await store.getRecord(id)),
    async open(req) {
      return { created: (await create(req)).created };
    },
    async hostShowedLife(id, what, at) {
      // The first sign is kept: it is what `fence confirm` quotes; later ones change nothing.
      let first = false;
      const rec = await store.update(id, (r) => {
        first = r.lifeSeen === undefined;
        return first ? { ...r, lifeSeen: { at, what } } : undefined;
      });
      if (first) {
        await store.addTimeline(id, {
          step: 'watch', level: 'warning', at,
          message: `${rec.host} showed life while its incident was ${rec.status}: ${what}`, data: { seen: what },
        });
      }
      return { aborted: rec.status === 'awaiting_fence' ? await deps.abortWaiting(id, what) : false };
    },
    note: (id, entry) => store.addTimeline(id, { step: 'detector', ...entry }),
  };
}
