import { SimClock } from './clock.js';
import { Rng } from './rng.js';
import { CREATABLE_STATUS, powerStateOf } from './server-states.js';
import type { Flavor, SimHost, SimServer, SimServerGroup, SimUser, SimVolume, VmState, WorldSettings } from './types.js';
import { World } from './world.js';

/** What a world is made of. Durations are in seconds, as on the command line. */
export interface WorldOptions {
  hosts?: number;
  instancesPerHost?: number;
  spares?: number;
  seed?: number;
  reportIntervalSeconds?: number;
  serviceDownTimeSeconds?: number;
  evacuateSeconds?: number;
  liveMigrateSeconds?: number;
  bootSeconds?: number;
  cleanupSeconds?: number;
  gracefulShutdownSeconds?: number;
  rpcTimeoutSeconds?: number;
  periodicSeconds?: number;
  tokenTtlSeconds?: number;
  minMicroversion?: string;
  maxMicroversion?: string;
  hostVcpus?: number;
  hostMemoryMb?: number;
  cpuAllocationRatio?: number;
  ramAllocationRatio?: number;
  /** Shifts every 198.18.0.0/15 address by this many /24s, so two worlds with namespaces can share a machine. */
  ipBlock?: number;
  /** Admin password; drawn from the seed when absent. */
  adminPassword?: string;
  /** false: the catalog has no volumev3 endpoint (a cloud without Cinder). */
  cinder?: boolean;
  /** Monitor IPs that Cinder's rbd connection_info names (`data.hosts`); a test with a real Ceph gives its own. */
  cephMonIps?: string[];
  /** `cloudpods`: the catalog offers a Cloudpods region (compute_v2) instead of Nova and friends. Default openstack. */
  cloud?: 'openstack' | 'cloudpods';
}

export const FLAVORS: readonly Flavor[] = [
  { id: '1', name: 'm1.tiny', vcpus: 1, ram: 512, disk: 1 },
  { id: '2', name: 'm1.small', vcpus: 1, ram: 2048, disk: 20 },
  { id: '3', name: 'm1.medium', vcpus: 2, ram: 4096, disk: 40 },
  { id: '4', name: 'm1.large', vcpus: 4, ram: 8192, disk: 80 },
];

/**
 * Addresses come from 198.18.0.0/15, skipping .0 and .255: management addresses from the first 32 /24s
 * (compute1 is 198.18.0.11; a world of more than 8,118 hosts and spares takes as many more /24s as it needs),
 * instance addresses from the /24 after them (198.18.32.0 in a world of up to 8,118 hosts) to the end of the /15,
 * storage addresses from 198.19.0.0 on. `ipBlock` shifts them by that many /24s so two worlds with namespaces can
 * share a machine. The /15 holds 131,072 addresses: in a world with more servers than the instance area holds
 * (about 120,000), the servers past it have no provider address, only their tenant one (never probed).
 */
const MGMT_AREA = 0;
const MIN_MGMT_AREAS = 32;
const STORAGE_AREA = 256 * 256;
const BLOCK_SIZE = 2 * 65536;

/** The /24s management addresses take in a world of this many hosts and spares: 32, or more for a larger world. */
export function mgmtAreas(hostsAndSpares: number): number {
  return Math.max(MIN_MGMT_AREAS, Math.ceil((10 + hostsAndSpares) / 254));
}

/** How many servers (by index) have a provider address: the instance area runs from after the management /24s to the end of the /15. */
export function instanceCapacity(ipBlock = 0, areas = MIN_MGMT_AREAS): number {
  return Math.max(0, Math.floor((BLOCK_SIZE - (areas + ipBlock) * 256) / 256) * 254);
}

export function addressAt(n: number): string {
  if (n < 0 || n >= BLOCK_SIZE) throw new Error(`address ${n} is outside 198.18.0.0/15`);
  return `198.${18 + (n >> 16)}.${(n >> 8) & 0xff}.${n & 0xff}`;
}

function usable(base: number, n: number): number {
  return base + Math.floor(n / 254) * 256 + (n % 254) + 1;
}

export function mgmtIpFor(index: number, ipBlock = 0): string {
  return addressAt(usable(MGMT_AREA + ipBlock * 256, 9 + index));
}

/**
 * Storage addresses live in 198.19.0.0-198.19.127.255 (compute1 is 198.19.0.11), shifted by `ipBlock` modulo 128
 * /24s: 198.19.128.0/17 is left to the test network labs.
 */
export function storageIpFor(index: number, ipBlock = 0): string {
  return addressAt(usable(STORAGE_AREA + (ipBlock % 128) * 256, 9 + index));
}

export function instanceIpFor(serverIndex: number, ipBlock = 0, areas = MIN_MGMT_AREAS): string {
  return addressAt(usable((areas + ipBlock) * 256, serverIndex));
}

/** A server's provider address, none when the instance area is full (see the layout above). */
function providerAddress(index: number, ipBlock: number, areas: number): Array<SimServer['addresses'][number]> {
  if (index >= instanceCapacity(ipBlock, areas)) return [];
  return [{ network: 'provider', addr: instanceIpFor(index, ipBlock, areas), type: 'fixed', mac: macFor(0x10, index) }];
}

export function resolveSettings(o: WorldOptions): WorldSettings {
  const s = (v: number | undefined, dflt: number) => Math.round((v ?? dflt) * 1000);
  const evacuateMs = s(o.evacuateSeconds, 5);
  return {
    reportIntervalMs: s(o.reportIntervalSeconds, 10),
    serviceDownTimeMs: s(o.serviceDownTimeSeconds, 60),
    evacuateMs,
    liveMigrateMs: o.liveMigrateSeconds === undefined ? evacuateMs : s(o.liveMigrateSeconds, 5),
    bootMs: s(o.bootSeconds, 2),
    cleanupMs: s(o.cleanupSeconds, 3),
    gracefulShutdownMs: s(o.gracefulShutdownSeconds, 1),
    rpcTimeoutMs: s(o.rpcTimeoutSeconds, 60),
    periodicMs: s(o.periodicSeconds, 60),
    cpuAllocationRatio: o.cpuAllocationRatio ?? 4,
    ramAllocationRatio: o.ramAllocationRatio ?? 1,
    reservedHostMemoryMb: 512,
    tokenTtlMs: s(o.tokenTtlSeconds, 3600),
    minMicroversion: o.minMicroversion ?? '2.1',
    maxMicroversion: o.maxMicroversion ?? '2.93',
    defaultAz: 'nova',
    ipBlock: o.ipBlock ?? 0,
    cinder: o.cinder ?? true,
    cephMonIps: o.cephMonIps ?? ['198.19.127.254'],
    cloud: o.cloud ?? 'openstack',
  };
}

const PEOPLE = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'];

/**
 * Builds the world: compute1..computeN with M servers each, spare1..spareK (nova-compute disabled with
 * reason `down_prepare`, no servers), a controller's always-up nova-conductor and nova-scheduler, Keystone's
 * admin and a few tenants with e-mail addresses, and one aggregate of the compute hosts.
 */
export function buildWorld(o: WorldOptions = {}, clock = new SimClock()): World {
  const nHosts = o.hosts ?? 4;
  const perHost = o.instancesPerHost ?? 5;
  const nSpares = o.spares ?? 1;
  const seed = o.seed ?? 1;
  const offset = o.ipBlock ?? 0;
  if (!Number.isInteger(nHosts) || nHosts < 0 || !Number.isInteger(nSpares) || nSpares < 0 || nHosts + nSpares < 1) {
    throw new Error('a world needs at least one host (hosts and spares are whole numbers)');
  }
  if (!Number.isInteger(perHost) || perHost < 0) throw new Error('instances per host must be a whole number');
  const areas = mgmtAreas(nHosts + nSpares);
  // Management /24s below 198.19.0.0, storage ones inside 198.19.0.0/17 (the upper half is the test labs').
  if (offset + areas > 256 || (offset % 128) + Math.ceil((10 + nHosts + nSpares) / 254) > 128) {
    throw new Error(`too many hosts for 198.18.0.0/15 with ipBlock ${offset}: ${nHosts + nSpares}`);
  }

  const rng = new Rng(seed);
  const settings = resolveSettings(o);
  const world = new World(settings, clock, rng);
  const now = clock.now();
  const epoch = now - 30 * 86_400_000;

  // Keystone
  const defaultDomain = { id: 'default', name: 'Default' };
  world.domains.push(defaultDomain);
  const adminProject = { id: rng.hex(32), name: 'admin', domainId: 'default' };
  const serviceProject = { id: rng.hex(32), name: 'service', domainId: 'default' };
  world.projects.push(adminProject, serviceProject);
  const tenantProjects = ['demo-a', 'demo-b', 'demo-c'].map((name) => ({ id: rng.hex(32), name, domainId: 'default' }));
  world.projects.push(...tenantProjects);
  const admin: SimUser = {
    id: rng.hex(32), name: 'admin', domainId: 'default', email: 'admin@example.org',
    password: o.adminPassword ?? `admin-${rng.hex(16)}`, defaultProjectId: adminProject.id,
    roles: new Map([[adminProject.id, ['admin', 'member', 'reader']]]),
  };
  world.users.push(admin);
  const people: SimUser[] = PEOPLE.map((name, i) => {
    const project = tenantProjects[i % tenantProjects.length]!;
    return {
      id: rng.hex(32), name, domainId: 'default', email: `${name}@example.org`, password: `${name}-${rng.hex(8)}`,
      defaultProjectId: project.id, roles: new Map([[project.id, ['member', 'reader']]]),
    };
  });
  world.users.push(...people);
  world.appCredentials.push({ id: rng.hex(32), name: 'cmpha', secret: rng.hex(40), userId: admin.id, projectId: adminProject.id });

  world.flavors.push(...FLAVORS);
  world.controlServices.push(
    { uuid: rng.uuid(), intId: 1, binary: 'nova-scheduler', host: 'controller', createdAt: epoch },
    { uuid: rng.uuid(), intId: 2, binary: 'nova-conductor', host: 'controller', createdAt: epoch },
  );

  // hosts
  const interval = settings.reportIntervalMs;
  for (let i = 1; i <= nHosts + nSpares; i++) {
    const spare = i > nHosts;
    const name = spare ? `spare${i - nHosts}` : `compute${i}`;
    const bootedAt = now - 3_600_000 - rng.int(0, 600_000);
    // heartbeats started at some phase within the last interval, like real computes that booted at different times
    const hbOrigin = now - rng.int(0, Math.max(0, interval - 1));
    const host: SimHost = {
      name, index: i, spare, mgmtIp: mgmtIpFor(i, offset), storageIp: storageIpFor(i, offset),
      serviceUuid: rng.uuid(), serviceIntId: 2 + i, hypervisorUuid: rng.uuid(), hypervisorIntId: i,
      createdAt: epoch, vcpus: o.hostVcpus ?? 32, memoryMb: o.hostMemoryMb ?? 131072, localGb: 2000,
      power: 'on', poweredOnAt: bootedAt, hung: false, novaComputeWanted: true, novaComputeStartedAt: bootedAt,
      mgmtLink: 'up', storageLink: 'up', instanceLink: 'up', pingBlocked: false, portBindingFails: false,
      disabled: spare, disabledReason: spare ? 'down_prepare' : null, forcedDown: false,
      hbOrigin, hbLast: hbOrigin, lastUpdateAt: null, traitDisabled: spare,
      bmc: { mode: 'ok', username: 'root', password: rng.hex(16) },
      servers: new Set(), vcpusUsed: 0, memoryMbUsed: 0, diskGbUsed: 0, bootGeneration: 0,
    };
    world.addHost(host);
  }
  world.aggregates.push({
    id: 1, uuid: rng.uuid(), name: 'compute-pool', availabilityZone: null,
    hosts: world.hostList.filter((h) => !h.spare).map((h) => h.name), metadata: {}, createdAt: epoch, updatedAt: null,
  });

  // servers: mostly ACTIVE, some SHUTOFF, one ERROR per small world (more in large ones)
  const imageId = rng.uuid();
  const ownerPool = people;
  let index = 0;
  for (let hi = 0; hi < nHosts; hi++) {
    const host = world.hostList[hi]!;
    for (let k = 0; k < perHost; k++) {
      const owner = ownerPool[index % ownerPool.length]!;
      const projectId = owner.defaultProjectId!;
      const r = rng.next();
      let vmState: VmState = 'active';
      if (index === 2 || r < 0.03) vmState = 'error';
      else if (index === 4 || r < 0.15) vmState = 'stopped';
      const flavor = FLAVORS[1 + (index % 3)]!;
      const createdAt = epoch + index * 1000;
      const id = rng.uuid();
      const server: SimServer = {
        id, index, name: `vm-${String(index + 1).padStart(5, '0')}`, projectId, userId: owner.id, flavor, imageId,
        host: host.name, vmState, taskState: null, powerState: vmState === 'active' ? 1 : 4,
        createdAt, updatedAt: createdAt, launchedAt: createdAt + 20_000, az: settings.defaultAz,
        metadata: rng.next() < 0.5 ? { HA_Enabled: 'True' } : {},
        addresses: [
          ...providerAddress(index, offset, areas),
          { network: 'tenant-net', addr: `10.${(index >> 16) & 0xff}.${(index >> 8) & 0xff}.${index & 0xff}`, type: 'fixed', mac: macFor(0x20, index) },
        ],
        fault: vmState === 'error' ? { code: 500, message: 'Guest kernel panic', created: createdAt + 60_000 } : null,
        actions: [{
          action: 'create', requestId: `req-${rng.uuid()}`, userId: owner.id, projectId, startTime: createdAt,
          updatedAt: createdAt + 20_000, message: null,
          events: [{ event: 'compute__do_build_and_run_instance', startTime: createdAt, finishTime: createdAt + 20_000, result: 'Success', host: host.name }],
        }],
      };
      world.addServer(server);
      index++;
    }
  }
  return world;
}

function macFor(prefix: number, n: number): string {
  const b = [0xfa, 0x16, 0x3e, prefix, (n >> 8) & 0xff, n & 0xff];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

export interface NewServerSpec {
  name?: string;
  host?: string | null;
  /** ACTIVE (default), SHUTOFF, ERROR, PAUSED, SUSPENDED, RESCUE or SHELVED (shelved, not offloaded). */
  status?: string;
  /** A task the server was caught in (e.g. `rebooting_hard`), as a dead compute leaves it. */
  taskState?: string;
  /** Locked by its owner, with this reason. */
  lockedReason?: string;
  flavor?: string;
  metadata?: Record<string, string>;
  userName?: string;
  /**
   * Cinder volumes to attach, in order (`/dev/vdb`, `/dev/vdc`…): `rbd` (default) on the simulated Ceph, `iscsi`,
   * or `none` (an old-style attachment: no connection_info). `boot: true` on the first makes it the root disk
   * (`/dev/vda`, the server volume-backed); `migrated: true` gives the volume a `_name_id` of its own.
   */
  volumes?: { driver?: 'rbd' | 'iscsi' | 'none'; boot?: boolean; migrated?: boolean }[];
  /** Extra specs of its flavor (a copy of the named flavor with them: Nova embeds the flavor in the server). */
  extraSpecs?: Record<string, string>;
  /** Properties of the image it boots from (Glance serves them). */
  imageProperties?: Record<string, string>;
  /** The name (or id) of a server group it joins (created with POST /sim/server-groups or Nova's API). */
  group?: string;
}

/** Adds a server (control API): an ERROR server without host stands for one whose boot never got a host. */
export function addServer(world: World, spec: NewServerSpec): SimServer {
  const rng = world.rng;
  const offset = world.settings.ipBlock;
  const index = world.nextServerIndex;
  const owner = world.users.find((u) => u.name === (spec.userName ?? PEOPLE[index % PEOPLE.length])) ?? world.users[0]!;
  const named = world.flavors.find((f) => f.name === spec.flavor || f.id === spec.flavor) ?? FLAVORS[1]!;
  const flavor = spec.extraSpecs ? { ...named, extraSpecs: { ...named.extraSpecs, ...spec.extraSpecs } } : named;
  const group = spec.group === undefined ? undefined : world.serverGroups.find((g) => g.name === spec.group || g.id === spec.group);
  if (spec.group !== undefined && !group) throw new Error(`no server group ${spec.group}`);
  const host = spec.host === undefined ? world.hostList.find((h) => !h.spare)?.name ?? null : spec.host;
  if (host !== null && !world.hosts.has(host)) throw new Error(`no host ${host}`);
  const status = (spec.status ?? 'ACTIVE').toUpperCase();
  const vmState: VmState | undefined = CREATABLE_STATUS[status];
  if (vmState === undefined) throw new Error(`status ${status} is not one of ${Object.keys(CREATABLE_STATUS).join(', ')}`);
  const now = world.now();
  const bootFromVolume = spec.volumes?.[0]?.boot === true;
  if (spec.volumes?.slice(1).some((v) => v.boot)) throw new Error('only the first volume can be the boot volume');
  let letter = 0;
  const volumes: SimVolume[] = (spec.volumes ?? []).map((v) => {
    const id = rng.uuid();
    const device = v.boot ? '/dev/vda' : `/dev/vd${String.fromCharCode(98 + letter++)}`;
    return {
      id, nameId: v.migrated ? rng.uuid() : id, attachmentId: rng.uuid(), bdmUuid: rng.uuid(), device,
      driver: v.driver ?? 'rbd', bootable: v.boot === true, attachedAt: now,
    };
  });
  const imageId = bootFromVolume ? '' : rng.uuid();
  if (imageId && spec.imageProperties) world.images.set(imageId, { id: imageId, name: `image-${imageId.slice(0, 8)}`, properties: { ...spec.imageProperties } });
  const server: SimServer = {
    id: rng.uuid(), index, name: spec.name ?? `vm-${String(index + 1).padStart(5, '0')}`,
    projectId: owner.defaultProjectId ?? world.projects[0]!.id, userId: owner.id, flavor, imageId,
    ...(volumes.length > 0 ? { volumes } : {}),
    host, vmState, taskState: spec.taskState ?? null, powerState: host === null ? 0 : powerStateOf(vmState),
    ...(spec.lockedReason !== undefined ? { lock: { reason: spec.lockedReason } } : {}),
    createdAt: now, updatedAt: now, launchedAt: host === null ? null : now, az: host === null ? null : world.settings.defaultAz,
    metadata: spec.metadata ?? {},
    addresses: host === null ? [] : [
      ...providerAddress(index, offset, mgmtAreas(world.hostList.length)),
      { network: 'tenant-net', addr: `10.${(index >> 16) & 0xff}.${(index >> 8) & 0xff}.${index & 0xff}`, type: 'fixed', mac: macFor(0x20, index) },
    ],
    fault: vmState === 'error'
      ? { code: 500, created: now, message: host === null ? 'No valid host was found. There are not enough hosts available.' : 'Guest kernel panic' }
      : null,
    actions: [{
      action: 'create', requestId: `req-${rng.uuid()}`, userId: owner.id, projectId: owner.defaultProjectId ?? '',
      startTime: now, updatedAt: now, message: host === null ? 'No valid host was found.' : null, events: [],
    }],
  };
  world.addServer(server);
  group?.members.push(server.id);
  return server;
}

export interface NewServerGroupSpec {
  name: string;
  policy: 'affinity' | 'anti-affinity' | 'soft-affinity' | 'soft-anti-affinity';
  maxServerPerHost?: number;
}

/** Adds a server group (control API), owned by the first project. */
export function addServerGroup(world: World, spec: NewServerGroupSpec): SimServerGroup {
  if (!['affinity', 'anti-affinity', 'soft-affinity', 'soft-anti-affinity'].includes(spec.policy)) throw new Error(`policy ${String(spec.policy)} is not one of affinity, anti-affinity, soft-affinity, soft-anti-affinity`);
  if (spec.maxServerPerHost !== undefined && (spec.policy !== 'anti-affinity' || !(Number.isInteger(spec.maxServerPerHost) && spec.maxServerPerHost > 0))) {
    throw new Error('maxServerPerHost is a positive integer, for anti-affinity only');
  }
  const project = world.projects[0]!;
  const g: SimServerGroup = {
    id: world.rng.uuid(), name: spec.name, policy: spec.policy, members: [], projectId: project.id,
    userId: world.users[0]?.id ?? '', ...(spec.maxServerPerHost !== undefined ? { maxServerPerHost: spec.maxServerPerHost } : {}),
  };
  world.serverGroups.push(g);
  return g;
}
