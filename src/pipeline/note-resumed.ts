import { hostname } from 'node:os';
import type { IncidentStore } from '../incidents/incident-store.js';
import { CmphaError } from '../shared/errors.js';
import type { ResumedJob } from './resume.js';

export const controllerName = () => `${hostname()} (pid ${process.pid})`;

/**
 * One timeline note per incident whose jobs were handed back from a controller that died holding them. Written
 * through the recovery's store: a job handed back after its incident closed (a deposed leader's job, released
 * when it woke) adds nothing to the closed record, and a deposed controller writes nothing at all.
 */
export async function noteResumed(store: Pick<IncidentStore, 'addTimeline'>, jobs: readonly ResumedJob[]): Promise<void> {
  const byIncident = new Map<string, ResumedJob[]>();
  for (const j of jobs) if (j.incidentId) byIncident.set(j.incidentId, [...(byIncident.get(j.incidentId) ?? []), j]);
  for (const [id, held] of byIncident) {
    const servers = held.flatMap((j) => (j.serverId ? [j.serverId] : []));
    await store.addTimeline(id, {
      step: 'resume', level: 'warning',
      message: `recovery resumed: a controller stopped while it held ${held.length} job(s) of this incident${servers.length > 0 ? ` (servers ${servers.join(', ')})` : ''}; controller ${controllerName()} took them up`,
      data: { jobs: held.map((j) => j.queue) },
    }).catch((err: unknown) => { if (!isClosedRefusal(err)) throw err; });
  }
}

export const isClosedRefusal = (err: unknown) => err instanceof CmphaError && err.code === 'incident_closed';
