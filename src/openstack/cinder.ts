import { z } from 'zod';
import type { Logger } from '../shared/logger.js';
import { checkAnswer } from './answer-check.js';
import type { KeystoneSession } from './keystone.js';
import { optionalEndpoint } from './optional-endpoint.js';
import type { CallOptions, VolumeConnection } from './types.js';

/** The attachments API (with each attachment's connection_info) exists from 3.27 (Ocata). */
export const CINDER_MICROVERSION = '3.27';

/** Catalog types of Cinder's v3 API: the long-standing one, then the official name newer clouds register. */
const SERVICE_TYPES = ['volumev3', 'block-storage'] as const;

/** One Cinder attachment record as cmpha reads it. */
export interface CinderAttachment {
  readonly id: string;
  /** `attached`, `attaching`, `reserved`, `detached`, `error_attaching`, … */
  readonly status: string;
  readonly volumeId: string;
  readonly instanceId: string | null;
  /** null while reserved, on records made by the old attach flow (os-initialize_connection), or when unreadable. */
  readonly connection: VolumeConnection | null;
  /** Set when a connection_info was there but not in the shape every driver gives it (`has a connection_info that …`). */
  readonly connectionProblem?: string;
}

const connectionSchema = z.object({
  driver_volume_type: z.string().min(1),
  // Each driver puts its own keys here; only rbd's name and hosts matter to cmpha.
  data: z.record(z.string(), z.unknown()).nullable().optional(),
});

const attachmentSchema = z.object({
  id: z.string().min(1),
  status: z.string().min(1),
  volume_id: z.string().min(1),
  instance: z.string().nullable().optional(),
  // Cinder stores it as a JSON text column: a record from the old flow has none (null), a view may omit it.
  // Checked apart (connectionOf): one odd record must not hide the others, and its values (an iSCSI CHAP
  // password among them) must never reach an error message.
  connection_info: z.unknown().optional(),
});

const attachmentsBody = z.object({ attachments: z.array(attachmentSchema) });

function connectionOf(raw: unknown): Pick<CinderAttachment, 'connection' | 'connectionProblem'> {
  if (raw === null || raw === undefined) return { connection: null };
  const parsed = connectionSchema.safeParse(raw);
  if (!parsed.success) return { connection: null, connectionProblem: 'has a connection_info that is not an object with a driver_volume_type' };
  const c = parsed.data;
  const data = c.data ?? {};
  const name = typeof data.name === 'string' && data.name.length > 0 ? data.name : undefined;
  const hosts = Array.isArray(data.hosts) ? data.hosts.filter((h): h is string => typeof h === 'string') : undefined;
  return { connection: { driverVolumeType: c.driver_volume_type, ...(name ? { rbdName: name } : {}), ...(hosts && hosts.length > 0 ? { monHosts: hosts } : {}) } };
}

/** Checks of Cinder's bodies: an attachment without an id or volume is an error naming the field. */
export const cinderAnswers = {
  attachments: (d: unknown): CinderAttachment[] => checkAnswer(attachmentsBody, d).attachments.map((a) => ({
    id: a.id, status: a.status, volumeId: a.volume_id, instanceId: a.instance ?? null, ...connectionOf(a.connection_info),
  })),
};

/**
 * Cinder over HTTP: only the attachment records of a server, which carry the connection_info Nova was given
 * (for rbd `data.name` = `<pool>/volume-<name_id>`: the image's real name, which after a migration is not
 * the volume id). Listing another project's attachments (`all_tenants`) needs the admin role, as cmpha has.
 */
export class CinderClient {
  readonly #session: KeystoneSession;
  readonly #logger: Logger;
  #warned = false;

  constructor(session: KeystoneSession, deps: { logger: Logger }) {
    this.#session = session;
    this.#logger = deps.logger;
  }

  /** The volumev3 endpoint; null when the catalog has none (then no volume can be placed on Ceph). */
  async endpoint(signal?: AbortSignal): Promise<string | null> {
    const url = await optionalEndpoint(this.#session, SERVICE_TYPES, signal);
    if (url !== null) return url;
    if (!this.#warned) {
      this.#warned = true;
      this.#logger.warn({}, 'the catalog has no volumev3 endpoint: attached volumes cannot be placed on Ceph');
    }
    return null;
  }

  /** Every attachment record of the server, across projects; null without a volumev3 endpoint. */
  async attachmentsOf(instanceId: string, opts: CallOptions = {}): Promise<CinderAttachment[] | null> {
    const base = await this.endpoint(opts.signal);
    if (base === null) return null;
    const query = new URLSearchParams({ instance_id: instanceId, all_tenants: '1' });
    const res = await this.#session.send<CinderAttachment[]>({
      service: 'cinder', method: 'GET', url: `${base}/attachments/detail?${query.toString()}`, idempotent: true, signal: opts.signal,
      headers: { 'OpenStack-API-Version': `volume ${CINDER_MICROVERSION}` }, validate: cinderAnswers.attachments,
    });
    return res.data;
  }
}
