import { SimHttpError, novaError } from './http-error.js';
import type { SimRequest, SimResponse } from './http-types.js';
import type { Keystone } from './keystone.js';
import { askedVersion, formatMicroversion, mv, parseMicroversion, type Microversion } from './microversion.js';
import type { SimServer, SimVolume } from './types.js';
import type { World } from './world.js';

/** Cinder v3's microversions in Zed; the attachments API needs 3.27. */
const MIN = mv('3.0');
const MAX = mv('3.70');
const ATTACHMENTS = mv('3.27');
/** The pool of the simulated RBD backend (Cinder's `rbd_pool`). */
export const SIM_VOLUME_POOL = 'volumes';

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
    const headers = { 'OpenStack-API-Version': `volume ${formatMicroversion(v)}`, Vary: 'OpenStack-API-Version' };
    this.world.advance();
    const rest = m[2] ?? '';
    if (rest === '' && req.method === 'GET') return { status: 200, headers, body: { version: this.versionDoc(req) } };
    const att = /^\/attachments(?:\/(detail|[^/]+))?$/.exec(rest);
    if (att && req.method === 'GET') {
      if (v < ATTACHMENTS) throw novaError(404, 'The resource could not be found.');
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
      id: 'v3.0', status: 'CURRENT', version: formatMicroversion(MAX), min_version: formatMicroversion(MIN), updated: '2022-08-31T00:00:00Z',
      links: [{ rel: 'self', href: `${req.url.origin}/volume/v3/` }],
      'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.volume+json;version=3' }],
    };
  }

  /** `OpenStack-API-Version: volume X.Y`; none means 3.0; outside [3.0, 3.70] is 406, as cinder-api answers. */
  private version(req: SimRequest): Microversion {
    const asked = askedVersion(req.headers, 'volume');
    if (asked === undefined || asked === '') return MIN;
    if (asked.toLowerCase() === 'latest') return MAX;
    const v = parseMicroversion(asked);
    if (v === undefined) throw novaError(400, `Invalid API version string: ${asked}`);
    if (v < MIN || v > MAX) {
      throw new SimHttpError(406, { computeFault: { code: 406, message: `Version ${formatMicroversion(v)} is not supported by the API. Minimum is ${formatMicroversion(MIN)} and maximum is ${formatMicroversion(MAX)}.` } });
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
