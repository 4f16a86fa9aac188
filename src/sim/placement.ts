import type { IncomingHttpHeaders } from 'node:http';
import { SimHttpError } from './http-error.js';
import type { SimRequest, SimResponse } from './http-types.js';
import type { Keystone } from './keystone.js';
import { askedVersion, formatMicroversion, mv, parseMicroversion, type Microversion } from './microversion.js';
import type { SimHost } from './types.js';
import type { World } from './world.js';

/** Zed's Placement. */
const MAX_VERSION = mv('1.39');
const MIN_VERSION = mv('1.0');

const TITLES: Record<number, string> = {
  400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 406: 'Not Acceptable',
};

/** webob's explanation that precedes Placement's own detail text. */
const EXPLANATIONS: Record<number, string> = {
  400: 'The server could not comply with the request since it is either malformed or otherwise incorrect.',
  403: 'Access was denied to this resource.',
  404: 'The resource could not be found.',
  405: 'The method specified is not allowed for this resource.',
};

/** Placement's error body: {"errors": [{"status", "title", "detail", "code", "request_id"}]}. */
export function placementError(status: number, detail: string, headers: Record<string, string> = {}): SimHttpError {
  const explanation = EXPLANATIONS[status];
  return new SimHttpError(status, {
    errors: [{
      status, title: TITLES[status] ?? 'Error',
      detail: explanation ? `${explanation}\n\n ${detail}  ` : detail,
      code: 'placement.undefined_code', request_id: `req-${Math.random().toString(16).slice(2, 10)}`,
    }],
  }, headers);
}

function requestVersion(headers: IncomingHttpHeaders): Microversion {
  const text = askedVersion(headers, 'placement');
  if (text === undefined || text === '') return MIN_VERSION;
  if (text.toLowerCase() === 'latest') return MAX_VERSION;
  const v = parseMicroversion(text);
  if (v === undefined) throw placementError(400, `invalid version string: ${text}`);
  if (v < MIN_VERSION || v > MAX_VERSION) throw placementError(406, `Unacceptable version header: ${text}`);
  return v;
}

function versionHeaders(v: Microversion): Record<string, string> {
  return { 'OpenStack-API-Version': `placement ${formatMicroversion(v)}`, Vary: 'openstack-api-version' };
}

const LIST_FILTERS = new Set(['name', 'uuid', 'in_tree']);

/**
 * Placement (read side) over the world: one resource provider per compute node, named after its
 * hypervisor_hostname and sharing its UUID, with VCPU/MEMORY_MB/DISK_GB inventories from the host and the
 * sim's allocation ratios, and usages = what servers placed there and incoming moves have claimed.
 */
export class Placement {
  /** Generation per host: bumped whenever its usage is seen to have changed, as allocations bump it. */
  private readonly generations = new Map<string, { gen: number; seen: string }>();

  constructor(
    private readonly world: World,
    private readonly keystone: Keystone,
  ) {}

  async handle(req: SimRequest): Promise<SimResponse | null> {
    if (!req.path.startsWith('/placement')) return null;
    const p = req.path.replace(/\/+$/, '').slice('/placement'.length);
    // The version document needs no token, as in Placement's own WSGI stack.
    if (p === '' && req.method === 'GET') {
      return {
        status: 200,
        body: { versions: [{ id: 'v1.0', max_version: formatMicroversion(MAX_VERSION), min_version: formatMicroversion(MIN_VERSION), status: 'CURRENT', links: [{ rel: 'self', href: '' }] }] },
      };
    }
    const token = this.keystone.authenticate(req);
    const v = requestVersion(req.headers);
    const headers = versionHeaders(v);
    try {
      this.world.advance();
      if (!token.roles.includes('admin')) throw placementError(403, `Policy does not allow placement:resource_providers:${p === '/resource_providers' ? 'list' : 'show'} to be performed.`);
      return { ...this.route(req, p, v), headers };
    } catch (err) {
      if (err instanceof SimHttpError) throw new SimHttpError(err.status, err.body, { ...headers, ...err.headers });
      throw err;
    }
  }

  private route(req: SimRequest, p: string, v: Microversion): SimResponse {
    let m: RegExpExecArray | null;
    if (p === '/resource_providers') {
      if (req.method !== 'GET') throw placementError(405, `The method ${req.method} is not allowed here.`);
      return this.list(req, v);
    }
    if ((m = /^\/resource_providers\/([^/]+)(?:\/(inventories|usages|traits))?$/.exec(p))) {
      if (req.method !== 'GET') throw placementError(405, `The method ${req.method} is not allowed here.`);
      const uuid = decodeURIComponent(m[1]!);
      const h = this.world.hostList.find((x) => x.hypervisorUuid === uuid);
      if (!h) throw placementError(404, `No resource provider with uuid ${uuid} found`);
      if (m[2] === 'inventories') return { status: 200, body: { inventories: this.inventories(h), resource_provider_generation: this.generation(h) } };
      if (m[2] === 'usages') return { status: 200, body: { usages: this.usages(h), resource_provider_generation: this.generation(h) } };
      if (m[2] === 'traits') {
        if (v < mv('1.6')) throw placementError(404, `The simulator serves no Placement resource at ${req.path}.`);
        return { status: 200, body: { traits: this.traits(h), resource_provider_generation: this.generation(h) } };
      }
      return { status: 200, body: this.providerBody(h, v) };
    }
    throw placementError(404, `The simulator serves no Placement resource at ${req.path}.`);
  }

  private list(req: SimRequest, v: Microversion): SimResponse {
    const q = req.url.searchParams;
    const unknown = [...q.keys()].filter((k) => !LIST_FILTERS.has(k) || (k === 'in_tree' && v < mv('1.14')));
    if (unknown.length > 0) {
      throw placementError(400, `Invalid query string parameters: Additional properties are not allowed (${unknown.map((k) => `'${k}'`).join(', ')} ${unknown.length === 1 ? 'was' : 'were'} unexpected)`);
    }
    const name = q.get('name');
    const uuid = q.get('uuid');
    const tree = q.get('in_tree');
    // Every provider here is its own root, so in_tree matches that one provider only.
    const hosts = this.world.hostList.filter((h) => (name === null || h.name === name) && (uuid === null || h.hypervisorUuid === uuid)
      && (tree === null || h.hypervisorUuid === tree));
    return { status: 200, body: { resource_providers: hosts.map((h) => this.providerBody(h, v)) } };
  }

  private providerBody(h: SimHost, v: Microversion): Record<string, unknown> {
    const self = `/placement/resource_providers/${h.hypervisorUuid}`;
    const links = [
      { rel: 'self', href: self },
      { rel: 'inventories', href: `${self}/inventories` },
      { rel: 'usages', href: `${self}/usages` },
      ...(v >= mv('1.1') ? [{ rel: 'aggregates', href: `${self}/aggregates` }] : []),
      ...(v >= mv('1.6') ? [{ rel: 'traits', href: `${self}/traits` }] : []),
      ...(v >= mv('1.11') ? [{ rel: 'allocations', href: `${self}/allocations` }] : []),
    ];
    return {
      uuid: h.hypervisorUuid, name: h.name, generation: this.generation(h), links,
      ...(v >= mv('1.14') ? { parent_provider_uuid: null, root_provider_uuid: h.hypervisorUuid } : {}),
    };
  }

  /** What nova-compute's resource tracker reports: the host's totals, reserved host memory, the allocation ratios. */
  private inventories(h: SimHost): Record<string, unknown> {
    const s = this.world.settings;
    const inv = (total: number, reserved: number, ratio: number) => ({ total, reserved, min_unit: 1, max_unit: total, step_size: 1, allocation_ratio: ratio });
    const extra = Object.fromEntries(Object.entries(h.capabilities?.inventory ?? {}).map(([rc, n]) => [rc, inv(n, 0, 1.0)]));
    return {
      VCPU: inv(h.vcpus, 0, s.cpuAllocationRatio),
      MEMORY_MB: inv(h.memoryMb, s.reservedHostMemoryMb, s.ramAllocationRatio),
      DISK_GB: inv(h.localGb, 0, 1.0),
      ...extra,
    };
  }

  /** The extra classes (PCPU, VGPU, PCI) have no consumers in the simulator: their usage is 0. */
  private usages(h: SimHost): Record<string, number> {
    const extra = Object.fromEntries(Object.keys(h.capabilities?.inventory ?? {}).map((rc) => [rc, 0]));
    return { VCPU: h.vcpusUsed, MEMORY_MB: h.memoryMbUsed, DISK_GB: h.diskGbUsed, ...extra };
  }

  /** nova-compute's traits on its provider (CPU flags and the like are left out), plus those set on the host. */
  private traits(h: SimHost): string[] {
    return [...(h.disabled || h.traitDisabled ? ['COMPUTE_STATUS_DISABLED'] : []), ...(h.capabilities?.traits ?? [])];
  }

  private generation(h: SimHost): number {
    const seen = `${h.vcpusUsed}/${h.memoryMbUsed}/${h.diskGbUsed}`;
    const g = this.generations.get(h.name);
    if (!g) {
      this.generations.set(h.name, { gen: 1, seen });
      return 1;
    }
    if (g.seen !== seen) {
      g.gen += 1;
      g.seen = seen;
    }
    return g.gen;
  }
}
