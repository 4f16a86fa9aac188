import { randomUUID } from 'node:crypto';
import { systemClock } from '../shared/time.js';
import { ApiError } from './api-error.js';
import type { Caller } from './auth.js';
import {
  allSegments, declaredIn, findSegment, hostView, segmentView, SegmentStore, validateHostBody, validateSegmentBody, type Segment,
} from './masakari-segments.js';
import type { ApiDeps } from './types.js';

export interface SegmentResources {
  listSegments(q: URLSearchParams): Promise<unknown>;
  showSegment(id: string): Promise<unknown>;
  createSegment(body: unknown, caller: Caller): Promise<unknown>;
  updateSegment(id: string, body: unknown, caller: Caller): Promise<unknown>;
  deleteSegment(id: string, caller: Caller): Promise<unknown>;
  listSegmentHosts(id: string, q: URLSearchParams): Promise<unknown>;
  showSegmentHost(id: string, host: string): Promise<unknown>;
  createSegmentHost(id: string): Promise<unknown>;
  updateSegmentHost(id: string, host: string, body: unknown, caller: Caller): Promise<unknown>;
  deleteSegmentHost(id: string, host: string): Promise<unknown>;
}

/** Segments and their hosts, as Masakari's API answers them; what cmpha does not let the API change is 409 with why. */
export function segmentResources(deps: ApiDeps): SegmentResources {
  const clock = deps.clock ?? systemClock;
  const startedAt = clock.now();
  const store = new SegmentStore(deps.redis, deps.prefix);
  const segments = async (): Promise<Segment[]> => allSegments({
    configured: deps.segments ?? [], stored: await store.apiSegments(), watched: deps.lastRound()?.hosts.map((h) => h.host) ?? [],
    spares: deps.spareHosts ?? [], startedAt,
  });
  const hostsOf = async (s: Segment) => {
    const flags = await store.maintenance();
    const round = deps.lastRound();
    return s.hosts.map((h) => hostView(s, h, {
      // Nova has the host disabled (cmpha recovered it, or an operator keeps it out) or someone set the flag here.
      onMaintenance: flags.has(h) || round?.hosts.find((x) => x.host === h)?.verdict === 'maintenance',
      controlAttributes: `fence ${deps.hosts[h]?.fence.driver ?? 'none'}`,
    }));
  };
  const findHost = async (s: Segment, id: string) => {
    const views = await hostsOf(s);
    const v = views.find((x) => x.uuid === id) ?? views.find((x) => x.name === id);
    if (!v) throw new ApiError(404, 'host_not_found', `Host with id ${id} could not be found.`);
    return v;
  };
  const refuseChange = (s: Segment) => {
    const why = declaredIn(s);
    if (why) throw new ApiError(409, 'segment_declared_in_config', why);
  };
  const nameTaken = (all: readonly Segment[], name: string, except?: string) => {
    if (all.some((x) => x.name === name && x.uuid !== except)) throw new ApiError(409, 'segment_exists', `Failover segment with name ${name} already exists.`);
  };

  return {
    async listSegments(q) {
      let list = await segments();
      for (const [param, get] of [['recovery_method', (s: Segment) => s.recoveryMethod], ['service_type', (s: Segment) => s.serviceType], ['enabled', (s: Segment) => String(s.enabled)]] as const) {
        const want = q.get(param);
        if (want !== null) list = list.filter((s) => get(s).toLowerCase() === want.toLowerCase());
      }
      return { segments: list.map(segmentView) };
    },

    async showSegment(id) {
      return { segment: segmentView(findSegment(await segments(), id)) };
    },

    async createSegment(body, caller) {
      const b = validateSegmentBody(body, 'create');
      const all = await segments();
      nameTaken(all, b.name!);
      const now = clock.now();
      const stored = {
        uuid: randomUUID(), id: await store.nextId(), name: b.name!, description: b.description ?? null, recovery_method: b.recovery_method!,
        service_type: b.service_type!, enabled: b.enabled ?? true, created_at: now, updated_at: null,
      };
      await store.putSegment(stored);
      deps.logger.info({ segment: stored.name, token: caller.name }, 'segment created through the API (it has no hosts until cmpha.conf declares them)');
      return { segment: segmentView(findSegment(await segments(), stored.uuid)) };
    },

    async updateSegment(id, body, caller) {
      const b = validateSegmentBody(body, 'update');
      const all = await segments();
      const s = findSegment(all, id);
      refuseChange(s);
      if (b.name !== undefined) nameTaken(all, b.name, s.uuid);
      const stored = {
        uuid: s.uuid, id: s.id, name: b.name ?? s.name, description: b.description !== undefined ? b.description : s.description,
        recovery_method: b.recovery_method ?? s.recoveryMethod, service_type: b.service_type ?? s.serviceType, enabled: b.enabled ?? s.enabled,
        created_at: s.createdAt, updated_at: clock.now(),
      };
      await store.putSegment(stored);
      deps.logger.info({ segment: stored.name, token: caller.name }, 'segment updated through the API');
      return { segment: segmentView(findSegment(await segments(), s.uuid)) };
    },

    async deleteSegment(id, caller) {
      const s = findSegment(await segments(), id);
      refuseChange(s);
      await store.deleteSegment(s.uuid);
      deps.logger.info({ segment: s.name, token: caller.name }, 'segment deleted through the API');
      return null;
    },

    async listSegmentHosts(id, q) {
      let list = await hostsOf(findSegment(await segments(), id));
      for (const param of ['name', 'type', 'control_attributes', 'on_maintenance', 'reserved'] as const) {
        const want = q.get(param);
        if (want !== null) list = list.filter((h) => String(h[param]).toLowerCase() === want.toLowerCase());
      }
      return { hosts: list };
    },

    async showSegmentHost(id, host) {
      return { host: await findHost(findSegment(await segments(), id), host) };
    },

    async createSegmentHost(id) {
      const s = findSegment(await segments(), id);
      throw new ApiError(409, 'segment_hosts_from_config', `cmpha takes a segment's hosts from cmpha.conf: add the host to [segment:${s.name}] hosts there`);
    },

    async updateSegmentHost(id, hostId, body, caller) {
      const u = validateHostBody(body);
      const s = findSegment(await segments(), id);
      const h = await findHost(s, hostId);
      const name = String(h.name);
      // Only on_maintenance is run-time state; the rest is the file's, and a no-op change of it is accepted.
      const refused: string[] = [];
      if (u.reserved !== undefined && u.reserved !== h.reserved) refused.push(`reserved (set by [segment:${s.name}] reserved_hosts in cmpha.conf)`);
      if (u.name !== undefined && u.name !== name) refused.push('name (the Nova service host name)');
      if (u.type !== undefined && u.type !== h.type) refused.push('type (always COMPUTE)');
      if (u.controlAttributes !== undefined && u.controlAttributes !== h.control_attributes) refused.push(`control_attributes (the fencing of [host:${name}] in cmpha.conf)`);
      if (refused.length > 0) throw new ApiError(409, 'host_field_from_config', `Host ${name} can't be updated: cmpha does not change ${refused.join(', ')} through the API`);
      if (u.onMaintenance !== undefined) {
        await store.setMaintenance(name, u.onMaintenance, { by: caller.name, at: clock.now() });
        deps.logger.warn({ host: name, onMaintenance: u.onMaintenance, token: caller.name }, 'host maintenance flag set through the API');
      }
      return { host: await findHost(s, hostId) };
    },

    async deleteSegmentHost(id, host) {
      const s = findSegment(await segments(), id);
      const h = await findHost(s, host);
      throw new ApiError(409, 'segment_hosts_from_config', `cmpha takes a segment's hosts from cmpha.conf: remove ${String(h.name)} from [segment:${s.name}] hosts there`);
    },
  };
}
