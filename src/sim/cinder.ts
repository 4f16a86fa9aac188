import { SimHttpError, novaError } from './http-error.js';
import type { SimRequest, SimResponse } from './http-types.js';
import type { Keystone } from './keystone.js';
import type { SimServer, SimVolume } from './types.js';
import type { World } from './world.js';

/** Cinder v3's microversions in Zed; the attachments API needs 3.27. */
const MIN = [3, 0] as const;
const MAX = [3, 70] as const;
const ATTACHMENTS = [3, 27] as const;
/** The pool and template of the simulated RBD backend (Cinder's `rbd_pool`, `volume_name_template`). */
export const SIM_VOLUME_POOL = 'volumes';

type Version = readonly [number, number];
const cmp = (a: Version, b: Version) => (a[0] !== b[0] ? a[0] - b[0] : a[1] - b[1]);
const text = (v: Version) => `${v[0]}.${v[1]}`;

/** The RBD image of a volume, as Cinder's RBD driver names it: `volume-<name_id>`. */
export function volumeImageName(v: Pick<SimVolume, 'nameId'>): string {
  return `volume-${v.nameId}`;
}

/** Cinder's datetime as its views print it (naive UTC, microseconds). */
function cinderTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000');
}

/**
 * The sliver of Cinder cmpha reads: the attachment records (3.27+), each with the connection_info the volume
 * driver returned, as `GET /v3/{project_id}/attachments[/detail]` and `/attachments/{id}` show them. Listing
 * honours `instance_id`, `volume_id`, `status`; `all_tenants` only for an admin (others see their project).
 */
export class Cinder {
  constructor(
    private readonly world: World,
    private readonly keystone: Keystone,
  ) {}

  async handle(req: SimRequest): Promise<SimResponse | null> {
    if (!req.path.startsWith('/volume')) return null;
    const p = req.path.replace(/\/+$/, '');
    if (p === '/volume' && req.method === 'GET') return { status: 300, body: { versions: [this.versionDoc(req)] } };
    const token = this.keystone.authenticate(req);
    const admin = token.roles.includes('admin');
    const m = /^\/volume\/v3\/([^/]+)(\/.*)?$/.exec(p);
    if (!m) throw novaError(404, 'The resource could not be found.');
    // Cinder refuses a URL whose project is not the token's.
    if (m[1] !== token.projectId) throw novaError(400, 'Malformed request url');
    const v = this.version(req);
    const headers = { 'OpenStack-API-Version': `volume ${text(v)}`, Vary: 'OpenStack-API-Version' };
    this.world.advance();
    const rest = m[2] ?? '';
    if (rest === '' && req.method === 'GET') return { status: 200, headers, body: { version: this.versionDoc(req) } };
    const att = /^\/attachments(?:\/(detail|[^/]+))?$/.exec(rest);
    if (att && req.method === 'GET') {
      if (cmp(v, ATTACHMENTS) < 0) throw novaError(404, 'The resource could not be found.');
      if (att[1] === undefined || att[1] === 'detail') {
        const q = req.url.searchParams;
        const all = admin && q.has('all_tenants');
        const rows = this.records().filter(({ server, volume }) => (all || server.projectId === token.projectId)
          && (q.get('instance_id') === null || server.id === q.get('instance_id'))
          && (q.get('volume_id') === null || volume.id === q.get('volume_id'))
          && (q.get('status') === null || q.get('status') === 'attached'));
        const detail = att[1] === 'detail';
        return { status: 200, headers, body: { attachments: rows.map((r) => (detail ? this.detail(r.server, r.volume) : this.summary(r.server, r.volume))) } };
      }
      const r = this.records().find((x) => x.volume.attachmentId === att[1] && (admin || x.server.projectId === token.projectId));
      if (!r) throw novaError(404, `VolumeAttachment ${att[1]} could not be found.`);
      return { status: 200, headers, body: { attachment: this.detail(r.server, r.volume) } };
    }
    throw novaError(404, 'The resource could not be found.');
  }

  private versionDoc(req: SimRequest) {
    return {
      id: 'v3.0', status: 'CURRENT', version: text(MAX), min_version: text(MIN), updated: '2022-08-31T00:00:00Z',
      links: [{ rel: 'self', href: `${req.url.origin}/volume/v3/` }],
      'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.volume+json;version=3' }],
    };
  }

  /** `OpenStack-API-Version: volume X.Y`; none means 3.0; outside [3.0, 3.70] is 406, as cinder-api answers. */
  private version(req: SimRequest): Version {
    const raw = req.headers['openstack-api-version'];
    const header = Array.isArray(raw) ? raw.join(',') : raw;
    let asked: string | undefined;
    for (const part of (header ?? '').split(',')) {
      const [service, ...rest] = part.trim().split(/\s+/);
      if (service?.toLowerCase() === 'volume') asked = rest.join(' ');
    }
    if (asked === undefined || asked === '') return MIN;
    if (asked.toLowerCase() === 'latest') return MAX;
    const m = /^(\d+)\.(\d+)$/.exec(asked);
    if (!m) throw novaError(400, `Invalid API version string: ${asked}`);
    const v: Version = [Number(m[1]), Number(m[2])];
    if (cmp(v, MIN) < 0 || cmp(v, MAX) > 0) {
      throw new SimHttpError(406, { computeFault: { code: 406, message: `Version ${text(v)} is not supported by the API. Minimum is ${text(MIN)} and maximum is ${text(MAX)}.` } });
    }
    return v;
  }

  private records(): { server: SimServer; volume: SimVolume }[] {
    return this.world.serverList.flatMap((server) => (server.volumes ?? []).map((volume) => ({ server, volume })));
  }

  private summary(server: SimServer, v: SimVolume) {
    return { id: v.attachmentId, status: 'attached', instance: server.id, volume_id: v.id };
  }

  private detail(server: SimServer, v: SimVolume) {
    return {
      ...this.summary(server, v),
      attached_at: cinderTime(v.attachedAt), detached_at: '', attach_mode: 'rw',
      connection_info: this.connectionInfo(v),
    };
  }

  /** What each driver's initialize_connection returns (plus access_mode/encrypted, which the volume manager adds). */
  private connectionInfo(v: SimVolume): unknown {
    if (v.driver === 'none') return null;
    if (v.driver === 'iscsi') {
      return {
        driver_volume_type: 'iscsi',
        data: {
          target_discovered: false, target_portal: '198.19.127.253:3260', target_iqn: `iqn.2010-10.org.openstack:volume-${v.nameId}`,
          target_lun: 0, volume_id: v.id, auth_method: 'CHAP', auth_username: `cinder-${v.id.slice(0, 8)}`, access_mode: 'rw', encrypted: false,
        },
      };
    }
    return {
      driver_volume_type: 'rbd',
      data: {
        name: `${SIM_VOLUME_POOL}/${volumeImageName(v)}`, hosts: [...this.world.settings.cephMonIps], ports: this.world.settings.cephMonIps.map(() => '6789'),
        cluster_name: 'ceph', auth_enabled: true, auth_username: 'cinder', secret_type: 'ceph', secret_uuid: '457eb676-33da-42ec-9a8c-9293d545c337',
        volume_id: v.id, discard: true, qos_specs: null, access_mode: 'rw', encrypted: false, cacheable: false,
      },
    };
  }
}
