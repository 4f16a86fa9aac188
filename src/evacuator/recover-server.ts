import type { IncidentRecord, InstanceEntry } from '../incidents/types.js';
import { evacuateServer } from './evacuate-server.js';
import type { EvacuatorDeps } from './types.js';
import { verifyServer } from './verify-server.js';

const NO_ROOM = /evacuation migration (error|failed)/;

/**
 * Evacuate, then verify. When an evacuation to a chosen spare fails in Nova's scheduler (the spare had
 * no room: its free capacity was unknown, or another incident took it meanwhile), the server is evacuated once more
 * without a target so the scheduler may find it a host. That second request follows a definitive failure
 * (migration error, server still on the source), so it is no blind repeat.
 */
export async function recoverServer(d: EvacuatorDeps, rec: IncidentRecord, serverId: string, signal?: AbortSignal): Promise<InstanceEntry> {
  for (;;) {
    let entry = await evacuateServer(d, rec, serverId, signal);
    if (entry.state === 'evacuated') entry = await verifyServer(d, rec, serverId, signal);
    if (entry.state !== 'failed' || entry.target === null || entry.retargetedFrom !== undefined || !NO_ROOM.test(entry.error ?? '')) return entry;
    const spare = entry.target;
    await d.store.updateInstance(rec.id, serverId, (e) => (e.state === 'failed' && e.retargetedFrom === undefined
      ? { ...e, state: 'pending', target: null, retargetedFrom: spare, error: undefined, finishedAt: undefined }
      : undefined));
    await d.store.addTimeline(rec.id, {
      step: 'evacuate', level: 'warning', serverId,
      message: `${entry.name}: evacuation to ${spare} failed (${entry.error}); evacuating it again without a target, the scheduler chooses`,
    });
  }
}
