import type { IncidentStore, OpenResult } from './incident-store.js';
import type { IncidentOpener, OpenIncidentRequest, OpenOptions } from './types.js';

export interface IncidentOpenerDeps {
  readonly store: IncidentStore;
  /** Queues the recovery of an incident; idempotent on the id. */
  readonly submit: (incidentId: string) => Promise<void>;
  /** Called once per incident actually created (metrics). */
  readonly onCreated?: (incidentId: string) => void;
}

export interface RecoveryOpener extends IncidentOpener {
  create(req: OpenIncidentRequest, opts?: OpenOptions): Promise<OpenResult>;
}

/**
 * Opening an incident, as the detector and the CLI do it: write the record (one per host), then queue its
 * recovery. Submitting again for an id that exists is harmless and heals a crash between the two.
 */
export function createIncidentOpener(deps: IncidentOpenerDeps): RecoveryOpener {
  const create = async (req: OpenIncidentRequest, opts?: OpenOptions): Promise<OpenResult> => {
    const r = await deps.store.create(req, opts);
    if (r.created) deps.onCreated?.(req.id);
    if (r.created || r.reason === 'exists') await deps.submit(req.id);
    return r;
  };
  return {
    create,
    hasOpenIncident: (host) => deps.store.hasOpenIncident(host),
    async open(req) {
      return { created: (await create(req)).created };
    },
  };
}
