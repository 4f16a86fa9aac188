import { randomUUID } from 'node:crypto';
import { SegmentStore, type StoredSegment } from '../masakari/segments.js';
import { systemClock } from '../shared/time.js';
import { ApiError } from './api-error.js';
import type { Caller } from './auth.js';
import {
  allSegments, findSegment, hostView, notStored, segmentView, validateHostBody, validateSegmentBody, type Segment,
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
  createSegmentHost(id: string, body: unknown, caller: Caller): Promise<unknown>;
  updateSegmentHost(id: string, host: string, body: unknown, caller: Caller): Promise<unknown>;
  deleteSegmentHost(id: string, host: string, caller: Caller): Promise<unknown>;
}

/**
 * Segments and their hosts, as Masakari's API answers them. Every change is written to Redis, where the recovery
 * and the detector read it (src/masakari/segment-policy.ts); what cmpha keeps elsewhere (a host's fencing, the
 * implicit segment) is refused with 409 and where to change it.
 */
export function segmentResources(deps: ApiDeps): SegmentResources {
  const clock = deps.clock ?? systemClock;
  const startedAt = clock.now();
  const store = new SegmentStore(deps.redis, deps.prefix, deps.segments ?? [], { now: () => clock.now(), logger: deps.logger });
  const watched = () => deps.lastRound()?.hosts.map((h) => h.host) ?? [];
  const segments = async (): Promise<Segment[]> => allSegments({
    configured: deps.segments ?? [], stored: await store.list(), watched: watched(), spares: deps.spareHosts ?? [], startedAt,
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
  const storedOf = (s: Segment): StoredSegment => {
    const why = notStored(s);
    if (why || !s.stored) throw new ApiError(409, 'segment_implicit', why ?? `segment ${s.name} is not stored`);
    return s.stored;
  };
  const nameTaken = (all: readonly Segment[], name: string, except?: string) => {
    if (all.some((x) => x.name === name && x.uuid !== except)) throw new ApiError(409, 'segment_exists', `Failover segment with name ${name} already exists.`);
  };
  const show = async (uuid: string) => ({ segment: segmentView(findSegment(await segments(), uuid)) });

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
      return await store.exclusive(async () => {
        const b = validateSegmentBody(body, 'create');
        const all = await segments();
        nameTaken(all, b.name!);
        const now = clock.now();
        const stored = {
          uuid: randomUUID(), id: await store.nextId(), name: b.name!, description: b.description ?? null, recovery_method: b.recovery_method!,
          service_type: b.service_type!, enabled: b.enabled ?? true, hosts: [], reserved: [], from: 'api' as const, created_at: now, updated_at: null,
        };
        await store.put(stored);
        deps.logger.info({ segment: stored.name, token: caller.name }, 'segment created through the API');
        return await show(stored.uuid);
      });
    },

    async updateSegment(id, body, caller) {
      return await store.exclusive(async () => {
        const b = validateSegmentBody(body, 'update');
        const all = await segments();
        const s = findSegment(all, id);
        const was = storedOf(s);
        if (b.name !== undefined) nameTaken(all, b.name, s.uuid);
        await store.put({ ...was, ...b, updated_at: clock.now() });
        deps.logger.warn({ segment: s.name, change: b, token: caller.name }, 'segment updated through the API');
        return await show(s.uuid);
      });
    },

    async deleteSegment(id, caller) {
      return await store.exclusive(async () => {
        const s = findSegment(await segments(), id);
        storedOf(s);
        await store.delete(s.uuid);
        deps.logger.warn({ segment: s.name, hosts: s.hosts, token: caller.name }, 'segment deleted through the API');
        return null;
      });
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

    async createSegmentHost(id, body, caller) {
      return await store.exclusive(async () => {
        const u = validateHostBody(body, 'create');
        const all = await segments();
        const s = findSegment(all, id);
        const was = storedOf(s);
        const name = u.name!;
        const known = watched();
        if (known.length > 0 && !known.includes(name)) throw new ApiError(400, 'host_not_found', `Compute service with name ${name} could not be found.`);
        if (all.some((x) => x.source !== 'implicit' && x.hosts.includes(name))) throw new ApiError(409, 'host_exists', `Host with name ${name} already exists.`);
        await store.put({ ...was, hosts: [...was.hosts, name], reserved: u.reserved ? [...was.reserved, name] : was.reserved, updated_at: clock.now() });
        if (u.onMaintenance) await store.setMaintenance(name, true, { by: caller.name, at: clock.now() });
        deps.logger.warn({ segment: s.name, host: name, reserved: u.reserved ?? false, token: caller.name }, 'host added to a segment through the API');
        return { host: await findHost(findSegment(await segments(), s.uuid), name) };
      });
    },

    async updateSegmentHost(id, hostId, body, caller) {
      return await store.exclusive(async () => {
        const u = validateHostBody(body);
        const s = findSegment(await segments(), id);
        const h = await findHost(s, hostId);
        const name = String(h.name);
        // The host's identity and fencing are not the API's: a no-op change of them is accepted.
        const refused: string[] = [];
        if (u.name !== undefined && u.name !== name) refused.push('name (the Nova service host name)');
        if (u.type !== undefined && u.type !== h.type) refused.push('type (always COMPUTE)');
        if (u.controlAttributes !== undefined && u.controlAttributes !== h.control_attributes) refused.push(`control_attributes (the fencing of [host:${name}] in cmpha.conf)`);
        if (u.reserved !== undefined && u.reserved !== h.reserved && s.source === 'implicit') refused.push('reserved of the implicit segment (its reserved hosts are [evacuation] spare_hosts in cmpha.conf)');
        if (refused.length > 0) throw new ApiError(409, 'host_field_from_config', `Host ${name} can't be updated: cmpha does not change ${refused.join(', ')} through the API`);
        if (u.reserved !== undefined && u.reserved !== h.reserved) {
          const was = storedOf(s);
          await store.put({ ...was, reserved: u.reserved ? [...was.reserved, name] : was.reserved.filter((x) => x !== name), updated_at: clock.now() });
          deps.logger.warn({ segment: s.name, host: name, reserved: u.reserved, token: caller.name }, 'host reserved flag set through the API');
        }
        if (u.onMaintenance !== undefined) {
          await store.setMaintenance(name, u.onMaintenance, { by: caller.name, at: clock.now() });
          deps.logger.warn({ host: name, onMaintenance: u.onMaintenance, token: caller.name }, 'host maintenance flag set through the API');
        }
        return { host: await findHost(findSegment(await segments(), s.uuid), hostId) };
      });
    },

    async deleteSegmentHost(id, hostId, caller) {
      return await store.exclusive(async () => {
        const s = findSegment(await segments(), id);
        const h = await findHost(s, hostId);
        const name = String(h.name);
        const was = storedOf(s);
        await store.put({ ...was, hosts: was.hosts.filter((x) => x !== name), reserved: was.reserved.filter((x) => x !== name), updated_at: clock.now() });
        await store.setMaintenance(name, false, { by: caller.name, at: clock.now() });
        deps.logger.warn({ segment: s.name, host: name, token: caller.name }, 'host removed from a segment through the API');
        return null;
      });
    },
  };
}
