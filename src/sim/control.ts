import { addServer, addServerGroup, type NewServerGroupSpec, type NewServerSpec } from './build-world.js';
import { parseCorruptRules, type CorruptRule } from './corrupt.js';
import { novaTime } from './clock.js';
import { SimHttpError } from './http-error.js';
import type { SimRequest, SimResponse } from './http-types.js';
import type { Keystone } from './keystone.js';
import type { BmcMode, SimHost } from './types.js';
import { SimCeph } from './ceph.js';
import type { World } from './world.js';

export type SimService = 'nova' | 'keystone' | 'neutron' | 'placement' | 'redfish' | 'cinder' | 'cloudpods' | 'glance';

/** Fault injection for the cloud's APIs (Nova only unless `services` says otherwise). */
export interface FaultSettings {
  /** Fraction of requests answered 500 without being applied. */
  errorRate: number;
  /** Added before every answer. */
  latencyMs: number;
  /** Fraction of requests whose connection is destroyed before they are applied. */
  dropRate: number;
  /** Fraction of requests applied and then answered by a destroyed connection (the retry trap). */
  dropAfterRate: number;
  services: SimService[];
  /** Malformed answers to give (see CorruptRule); applied to any service, the faulty list aside. */
  corrupt: CorruptRule[];
}

/** How many faults were injected so far, so a test can tell "no fault happened" from "faults were handled". */
export interface FaultCounts {
  errors: number;
  drops: number;
  dropsAfter: number;
  /** Answers garbled by a corrupt rule. */
  corrupted: number;
}

export const DEFAULT_FAULTS: FaultSettings = { errorRate: 0, latencyMs: 0, dropRate: 0, dropAfterRate: 0, services: ['nova'], corrupt: [] };

export interface RecordedCall {
  method: string;
  path: string;
  body: unknown;
  time: string;
  service: SimService;
  status: number | null;
}

const SECRET_KEY = /pass(word)?|secret|token/i;

/** A copy of a request body with every secret value replaced by "***". */
export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) && typeof v !== 'object' ? '***' : redact(v);
  return out;
}

export class CallLog {
  private calls: RecordedCall[] = [];
  constructor(private readonly max = 20_000) {}

  record(call: RecordedCall): RecordedCall {
    this.calls.push(call);
    if (this.calls.length > this.max) this.calls.splice(0, this.calls.length - this.max);
    return call;
  }

  list(): readonly RecordedCall[] {
    return this.calls;
  }

  clear(): void {
    this.calls = [];
  }
}

function bad(message: string, status = 400): SimHttpError {
  return new SimHttpError(status, { error: message });
}

const HOST_ACTIONS: Record<string, (w: World, h: SimHost) => void> = {
  'power-off': (w, h) => w.powerOff(h),
  'power-on': (w, h) => w.powerOn(h),
  hang: (w, h) => w.hang(h),
  unhang: (w, h) => w.unhang(h),
  'nova-compute/stop': (w, h) => w.stopNovaCompute(h),
  'nova-compute/start': (w, h) => w.startNovaCompute(h),
  // On a Cloudpods world the same process is the host agent (the `host` container of default-host).
  'host-agent/stop': (w, h) => w.stopNovaCompute(h),
  'host-agent/start': (w, h) => w.startNovaCompute(h),
  'mgmt-link/down': (w, h) => w.setMgmtLink(h, 'down'),
  'mgmt-link/up': (w, h) => w.setMgmtLink(h, 'up'),
  'storage-link/down': (w, h) => w.setStorageLink(h, 'down'),
  'storage-link/up': (w, h) => w.setStorageLink(h, 'up'),
  'instance-link/down': (w, h) => w.setInstanceLink(h, 'down'),
  'instance-link/up': (w, h) => w.setInstanceLink(h, 'up'),
  'ping/block': (w, h) => w.setPingBlocked(h, true),
  'ping/allow': (w, h) => w.setPingBlocked(h, false),
  'port-binding/fail': (w, h) => w.setPortBindingFails(h, true),
  'port-binding/ok': (w, h) => w.setPortBindingFails(h, false),
};

const BMC_MODES: readonly BmcMode[] = ['ok', 'error', 'stuck-on', 'unreachable'];

/** The world control API under /sim: drive failures, read the truth, inspect calls. */
export class Control {
  constructor(
    private readonly world: World,
    private readonly keystone: Keystone,
    private readonly calls: CallLog,
    private readonly faults: FaultSettings,
    private readonly extra: { afterChange?: () => Promise<void>; netnsInfo?: () => unknown; injected?: FaultCounts } = {},
  ) {
    this.ceph = new SimCeph(world);
  }

  /** The cluster behind `POST /sim/ceph` (the storage fence's operations, as its librados helper answers them). */
  private readonly ceph: SimCeph;

  hostState(h: SimHost) {
    const w = this.world;
    const updated = w.serviceUpdatedAt(h);
    return {
      name: h.name,
      spare: h.spare,
      power: h.power,
      hung: h.hung,
      novaCompute: w.novaComputeRunning(h) ? 'running' : 'stopped',
      mgmtLink: h.mgmtLink,
      instanceLink: h.instanceLink,
      pingBlocked: h.pingBlocked,
      portBinding: h.portBindingFails ? 'fails' : 'ok',
      service: {
        state: w.serviceUp(h) ? 'up' : 'down',
        status: h.disabled ? 'disabled' : 'enabled',
        forced_down: h.forcedDown,
        disabled_reason: h.disabledReason,
        updated_at: updated === null ? null : novaTime(updated),
      },
      mgmtIp: h.mgmtIp,
      storageIp: h.storageIp,
      storageLink: h.storageLink,
      bmc: h.bmc.mode,
      servers: h.servers.size,
    };
  }

  serverState(id: string) {
    const s = this.world.servers.get(id)!;
    return {
      id: s.id, name: s.name, host: s.host, status: this.world.serverStatus(s), task_state: s.taskState, vm_state: s.vmState,
      ip: s.addresses.find((a) => a.network === 'provider')?.addr ?? null,
    };
  }

  async handle(req: SimRequest): Promise<SimResponse | null> {
    if (!req.path.startsWith('/sim')) return null;
    const w = this.world;
    w.advance();
    const p = req.path.replace(/\/+$/, '');
    const body = req.body as Record<string, unknown> | undefined;
    if (p === '/sim/state' && req.method === 'GET') {
      const q = req.url.searchParams;
      const withServers = q.get('servers') !== '0';
      const hostFilter = q.get('host');
      const hosts = hostFilter ? w.hostList.filter((h) => h.name === hostFilter) : w.hostList;
      const servers = withServers
        ? (hostFilter ? [...(w.host(hostFilter)?.servers ?? [])] : w.serverList.map((s) => s.id)).map((id) => this.serverState(id))
        : undefined;
      return {
        status: 200,
        body: { time: new Date(w.now()).toISOString(), netns: this.extra.netnsInfo?.() ?? null, hosts: hosts.map((h) => this.hostState(h)), ...(servers ? { servers } : {}) },
      };
    }
    const svc = /^\/sim\/services\/([^/]+)\/(stop|start)$/.exec(p);
    if (svc && req.method === 'POST') {
      const found = w.controlServices.filter((s) => s.binary === decodeURIComponent(svc[1]!));
      if (found.length === 0) throw bad(`no control service ${svc[1]}`, 404);
      for (const s of found) {
        if (svc[2] === 'stop') s.stoppedAt ??= w.now();
        else delete s.stoppedAt;
      }
      await this.extra.afterChange?.();
      return { status: 200, body: { services: found.map((s) => ({ binary: s.binary, host: s.host, stopped: s.stoppedAt !== undefined })) } };
    }
    const m = /^\/sim\/hosts\/([^/]+)\/(.+)$/.exec(p);
    if (m && req.method === 'POST') {
      const h = w.host(decodeURIComponent(m[1]!));
      if (!h) throw bad(`no host ${m[1]}`, 404);
      const action = m[2]!;
      if (action === 'bmc') {
        const mode = body?.mode;
        if (typeof mode !== 'string' || !BMC_MODES.includes(mode as BmcMode)) throw bad(`mode must be one of ${BMC_MODES.join(', ')}`);
        w.setBmcMode(h, mode as BmcMode);
      } else if (action === 'capabilities') {
        // What nova-compute would report of this host's hardware: extra Placement inventories, traits, NUMA cells.
        const b = (body ?? {}) as { inventory?: unknown; traits?: unknown; numaNodes?: unknown };
        const inventory = (b.inventory ?? {}) as Record<string, unknown>;
        if (typeof inventory !== 'object' || Object.values(inventory).some((v) => !Number.isInteger(v) || (v as number) < 0)) throw bad('inventory must map resource classes to whole numbers');
        if (b.traits !== undefined && (!Array.isArray(b.traits) || b.traits.some((t) => typeof t !== 'string'))) throw bad('traits must be a list of names');
        if (b.numaNodes !== undefined && (!Number.isInteger(b.numaNodes) || (b.numaNodes as number) < 1)) throw bad('numaNodes must be a whole number >= 1');
        h.capabilities = { inventory: inventory as Record<string, number>, traits: (b.traits ?? []) as string[], numaNodes: (b.numaNodes ?? 1) as number };
      } else {
        const fn = HOST_ACTIONS[action];
        if (!fn) throw bad(`unknown host action ${action}; known: ${Object.keys(HOST_ACTIONS).join(', ')}, bmc`, 404);
        fn(w, h);
      }
      await this.extra.afterChange?.();
      return { status: 200, body: { host: this.hostState(h) } };
    }
    if (p === '/sim/calls') {
      if (req.method === 'GET') {
        const service = req.url.searchParams.get('service');
        return { status: 200, body: this.calls.list().filter((c) => !service || c.service === service) };
      }
      if (req.method === 'DELETE') {
        this.calls.clear();
        return { status: 204 };
      }
    }
    if (p === '/sim/ceph' && req.method === 'POST') return { status: 200, body: this.ceph.handle(body) };
    if (p === '/sim/probe' && req.method === 'POST') {
      const addrs = body?.addresses;
      if (!Array.isArray(addrs) || !addrs.every((a) => typeof a === 'string')) throw bad('body must be {"addresses": ["198.18.0.11", ...]}');
      const out: Record<string, boolean> = {};
      for (const a of addrs as string[]) out[a] = w.addressAnswers(a);
      return { status: 200, body: out };
    }
    if (p === '/sim/faults') {
      if (req.method === 'GET') return { status: 200, body: { ...this.faults, ...(this.extra.injected ? { injected: { ...this.extra.injected } } : {}) } };
      if (req.method === 'POST') {
        applyFaults(this.faults, body ?? {});
        return { status: 200, body: { ...this.faults } };
      }
    }
    if (p === '/sim/clock' && req.method === 'POST') {
      const skew = body?.novaSkewSeconds;
      if (skew !== undefined) {
        if (typeof skew !== 'number' || !Number.isFinite(skew)) throw bad('novaSkewSeconds must be a number of seconds (negative: Nova\'s clock behind)');
        w.clock.novaSkewMs = skew * 1000;
      }
      const s = body?.advanceSeconds ?? (skew !== undefined ? 0 : undefined);
      if (typeof s !== 'number' || !(s >= 0)) throw bad('body must be {"advanceSeconds": N} with N >= 0 and/or {"novaSkewSeconds": N}');
      w.clock.advance(s * 1000);
      w.advance();
      await this.extra.afterChange?.();
      return { status: 200, body: { time: new Date(w.now()).toISOString() } };
    }
    if (p === '/sim/clock' && req.method === 'GET') return { status: 200, body: { time: new Date(w.now()).toISOString(), novaSkewSeconds: w.clock.novaSkewMs / 1000 } };
    if (p === '/sim/servers' && req.method === 'POST') {
      let server;
      try {
        server = addServer(w, (body ?? {}) as NewServerSpec);
      } catch (err) {
        throw bad(err instanceof Error ? err.message : String(err));
      }
      await this.extra.afterChange?.();
      return { status: 201, body: { server: this.serverState(server.id) } };
    }
    if (p === '/sim/server-groups' && req.method === 'POST') {
      let group;
      try {
        group = addServerGroup(w, (body ?? {}) as unknown as NewServerGroupSpec);
      } catch (err) {
        throw bad(err instanceof Error ? err.message : String(err));
      }
      return { status: 201, body: { serverGroup: { ...group, members: [...group.members] } } };
    }
    const silent = /^\/sim\/servers\/([^/]+)\/guest-silent$/.exec(p);
    if (silent && req.method === 'POST') {
      const server = w.servers.get(decodeURIComponent(silent[1]!));
      if (!server) throw bad(`no server ${silent[1]}`, 404);
      if (typeof body?.silent !== 'boolean') throw bad('body must be {"silent": true|false}');
      w.setGuestSilent(server, body.silent);
      await this.extra.afterChange?.();
      return { status: 200, body: { server: this.serverState(server.id) } };
    }
    const del = /^\/sim\/servers\/([^/]+)$/.exec(p);
    if (del && req.method === 'DELETE') {
      if (!w.deleteServer(decodeURIComponent(del[1]!))) throw bad(`no server ${del[1]}`, 404);
      await this.extra.afterChange?.();
      return { status: 204 };
    }
    if (p === '/sim/tokens/revoke' && req.method === 'POST') return { status: 200, body: { revoked: this.keystone.revokeAll() } };
    if (p === '/sim/credentials' && req.method === 'GET') {
      const admin = w.users.find((u) => u.name === 'admin')!;
      const ac = w.appCredentials[0];
      return {
        status: 200,
        body: {
          admin: { username: admin.name, password: admin.password, project_name: 'admin', user_domain_name: 'Default', project_domain_name: 'Default' },
          application_credential: ac ? { id: ac.id, name: ac.name, secret: ac.secret, user_id: ac.userId } : null,
          bmcs: Object.fromEntries(w.hostList.map((h) => [h.name, { username: h.bmc.username, password: h.bmc.password }])),
        },
      };
    }
    throw bad(`no such control endpoint: ${req.method} ${p}`, 404);
  }
}

/** Merges a JSON fault document into the settings (validating it). */
export function applyFaults(target: FaultSettings, input: Record<string, unknown>): void {
  const rate = (k: 'errorRate' | 'dropRate' | 'dropAfterRate') => {
    const v = input[k];
    if (v === undefined) return;
    if (typeof v !== 'number' || v < 0 || v > 1) throw bad(`${k} must be a number in [0, 1]`);
    target[k] = v;
  };
  rate('errorRate');
  rate('dropRate');
  rate('dropAfterRate');
  if (input.latencyMs !== undefined) {
    if (typeof input.latencyMs !== 'number' || input.latencyMs < 0) throw bad('latencyMs must be a number >= 0');
    target.latencyMs = input.latencyMs;
  }
  if (input.services !== undefined) {
    const ok = ['nova', 'keystone', 'neutron', 'placement', 'redfish', 'cinder', 'cloudpods', 'glance'];
    if (!Array.isArray(input.services) || !input.services.every((s) => ok.includes(s as string))) {
      throw bad(`services must be a list drawn from ${ok.join(', ')}`);
    }
    target.services = input.services as SimService[];
  }
  // A new list replaces the old one, so `corrupt: []` ends every rule.
  if (input.corrupt !== undefined) target.corrupt = parseCorruptRules(input.corrupt);
}
