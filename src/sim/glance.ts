import { SimHttpError } from './http-error.js';
import type { SimRequest, SimResponse } from './http-types.js';
import type { Keystone } from './keystone.js';
import type { World } from './world.js';

/**
 * The sliver of Glance v2 cmpha reads: `GET /v2/images/{id}`, an image with its custom properties at the top
 * level beside the core fields, as Glance shows them. Every image a server was booted from exists; those the
 * world gave properties (control API) carry them. An image id no server uses is 404.
 */
export class Glance {
  constructor(private readonly world: World, private readonly keystone: Keystone) {}

  async handle(req: SimRequest): Promise<SimResponse | null> {
    if (!req.path.startsWith('/image')) return null;
    const p = req.path.replace(/\/+$/, '');
    if (p === '/image' && req.method === 'GET') return { status: 300, body: { versions: [{ id: 'v2.16', status: 'CURRENT', links: [] }] } };
    this.keystone.authenticate(req);
    const m = /^\/image\/v2\/images\/([^/]+)$/.exec(p);
    if (m && req.method === 'GET') {
      const id = decodeURIComponent(m[1]!);
      const img = this.world.images.get(id);
      if (!img && !this.world.serverList.some((s) => s.imageId === id)) {
        throw new SimHttpError(404, `<html><body><h1>404 Not Found</h1><p>No image found with ID ${id}</p></body></html>`);
      }
      const epoch = new Date(this.world.startedAt).toISOString().replace(/\.\d+Z$/, 'Z');
      return {
        status: 200,
        body: {
          ...img?.properties,
          id, name: img?.name ?? `image-${id.slice(0, 8)}`, status: 'active', visibility: 'public', protected: false,
          container_format: 'bare', disk_format: 'qcow2', min_ram: 0, min_disk: 0, size: 21430272, virtual_size: null,
          owner: null, os_hidden: false, tags: [], checksum: null, os_hash_algo: null, os_hash_value: null,
          created_at: epoch, updated_at: epoch, self: `/v2/images/${id}`, file: `/v2/images/${id}/file`, schema: '/v2/schemas/image',
        },
      };
    }
    throw new SimHttpError(404, { error: `nothing at ${p}` });
  }
}
