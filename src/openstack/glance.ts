import { z } from 'zod';
import type { Logger } from '../shared/logger.js';
import { checkAnswer } from './answer-check.js';
import { OpenStackError } from './errors.js';
import type { KeystoneSession } from './keystone.js';
import { optionalEndpoint } from './optional-endpoint.js';
import type { CallOptions, ImageApi } from './types.js';

/**
 * Glance v2's image fields that are not properties an operator set (`openstack image set --property`): Glance
 * puts custom properties at the top level of the image, beside these.
 */
const CORE_FIELDS = new Set([
  'id', 'name', 'status', 'visibility', 'protected', 'checksum', 'os_hash_algo', 'os_hash_value', 'owner', 'size',
  'virtual_size', 'min_ram', 'min_disk', 'created_at', 'updated_at', 'tags', 'self', 'file', 'schema', 'container_format',
  'disk_format', 'direct_url', 'locations', 'stores', 'os_hidden',
]);

const imageSchema = z.object({ id: z.string().min(1) }).catchall(z.unknown());

/** An image's properties as text (what Nova copies into a server's image_* system metadata). */
export function imageProperties(d: unknown): Record<string, string> {
  const img = checkAnswer(imageSchema, d);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(img)) {
    if (CORE_FIELDS.has(k) || v === null || v === undefined) continue;
    out[k] = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
  }
  return out;
}

/** Glance over HTTP: the properties of one image (an evacuability rule may look at them). */
export class GlanceClient implements ImageApi {
  readonly #session: KeystoneSession;
  readonly #logger: Logger;
  #warned = false;

  constructor(session: KeystoneSession, deps: { logger: Logger }) {
    this.#session = session;
    this.#logger = deps.logger;
  }

  /** The image endpoint; null when the catalog has none. */
  async endpoint(signal?: AbortSignal): Promise<string | null> {
    const url = await optionalEndpoint(this.#session, ['image'], signal);
    if (url === null && !this.#warned) {
      this.#warned = true;
      this.#logger.warn({}, 'the catalog has no image endpoint: evacuability rules on image properties cannot match');
    }
    return url?.replace(/\/v2$/, '') ?? null;
  }

  async properties(imageId: string, opts: CallOptions = {}): Promise<Record<string, string> | null> {
    const base = await this.endpoint(opts.signal);
    if (base === null) return null;
    try {
      const res = await this.#session.send<Record<string, string>>({
        service: 'glance', method: 'GET', url: `${base}/v2/images/${encodeURIComponent(imageId)}`, idempotent: true, signal: opts.signal,
        validate: imageProperties,
      });
      return res.data;
    } catch (err) {
      // Deleted since the server booted (Nova keeps running it): nothing to match on.
      if (err instanceof OpenStackError && err.status === 404) return null;
      throw err;
    }
  }
}
