import type { CinderClient } from './cinder.js';
import type { NovaClient } from './nova.js';
import type { AttachedVolume, CallOptions, VolumeApi } from './types.js';

/**
 * A server's volumes: Nova's list of what is attached (its block device mappings), each joined with the
 * Cinder attachment that holds its connection_info, by attachment id when Nova names it (2.89+), else by
 * the volume's one `attached` record for this server. Two calls per server with volumes, one without.
 */
export class ServerVolumes implements VolumeApi {
  constructor(private readonly nova: Pick<NovaClient, 'listVolumeAttachments'>, private readonly cinder: Pick<CinderClient, 'attachmentsOf'>) {}

  async serverVolumes(serverId: string, opts: CallOptions = {}): Promise<AttachedVolume[]> {
    const attached = await this.nova.listVolumeAttachments(serverId, opts);
    if (attached.length === 0) return [];
    const records = await this.cinder.attachmentsOf(serverId, opts);
    return attached.map((a): AttachedVolume => {
      const base = { volumeId: a.volumeId, ...(a.device ? { device: a.device } : {}) };
      if (records === null) return { ...base, connection: null, missing: 'the catalog has no volumev3 endpoint, so its connection_info cannot be read' };
      const mine = records.filter((r) => r.volumeId === a.volumeId && (r.instanceId === null || r.instanceId === serverId));
      const record = a.attachmentId !== undefined
        ? mine.find((r) => r.id === a.attachmentId)
        : (mine.filter((r) => r.status === 'attached').length === 1 ? mine.find((r) => r.status === 'attached') : undefined);
      if (!record) {
        const why = a.attachmentId !== undefined
          ? `Cinder has no attachment ${a.attachmentId} for it`
          : `Cinder has ${mine.filter((r) => r.status === 'attached').length} attached record(s) of it for this server, not one`;
        return { ...base, ...(a.attachmentId ? { attachmentId: a.attachmentId } : {}), connection: null, missing: why };
      }
      if (record.connection === null) {
        return { ...base, attachmentId: record.id, connection: null, missing: `its attachment ${record.id} (${record.status}) ${record.connectionProblem ?? 'has no connection_info'}` };
      }
      return { ...base, attachmentId: record.id, connection: record.connection };
    });
  }
}
