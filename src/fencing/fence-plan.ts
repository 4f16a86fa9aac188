import type { CephConfig, FencingConfig, HostConfig } from '../config/types.js';
import type { ComputeBackend } from '../compute/types.js';
import type { VolumeApi } from '../openstack/types.js';
import { CephClient } from './ceph/ceph-client.js';
import { monIpsOf } from './ceph/server-disks.js';
import { CephStorageFence } from './ceph/storage-fence.js';
import { createFenceDriver, deviceEnv, type FenceDriverDeps } from './create-driver.js';
import type { DeviceEnv, FenceDevice, KdumpEnv } from './device.js';
import { kdumpAwarePower } from './devices/kdump.js';
import { FENCE_DEVICE_TYPES, levelDeviceType } from './devices/registry.js';
import type { FencePlan } from './fence-levels.js';
import { powerDevice } from './power-device.js';
import type { FenceHostOptions } from './fence-host.js';
import type { FenceDriver, FenceResult } from './types.js';

/** A client of the configured Ceph cluster, as the storage fence's cephx user. */
export function createCephClient(ceph: CephConfig): CephClient {
  return new CephClient({
    ...(ceph.conf ? { conf: ceph.conf } : {}), ...(ceph.monHost ? { monHost: ceph.monHost } : {}),
    user: ceph.user, keyringPath: ceph.keyringFile, python: ceph.python, timeoutMs: ceph.commandTimeoutMs,
    ...(ceph.simUrl ? { simUrl: ceph.simUrl } : {}),
  });
}

/** The storage fence of the configured Ceph cluster. */
export function createStorageFence(ceph: CephConfig, fencing: Pick<FencingConfig, 'pollIntervalMs'>): CephStorageFence {
  return new CephStorageFence(createCephClient(ceph), {
    imagesPool: ceph.imagesRbdPool, volumePools: ceph.volumePools ?? ['volumes'], monIps: monIpsOf(ceph.monHost),
    expireS: ceph.blocklistExpireS, confirmTimeoutMs: ceph.confirmTimeoutMs,
    pollIntervalMs: Math.min(fencing.pollIntervalMs, 500),
  });
}

/** The host's levels by device name: its configured ones, else its power device alone (none without one). */
export function fenceLevelNames(host: HostConfig, powerKind: string | undefined): readonly (readonly string[])[] {
  return host.fenceLevels ?? (powerKind ? [[powerKind]] : []);
}

export interface FencePlanDeps {
  /** The host's power switch (built from its [host:NAME] section when not given). */
  readonly driver?: FenceDriver | null;
  readonly storageFence?: CephStorageFence;
  /** Where the storage device learns which servers (so which images) are on the host. */
  readonly compute: Pick<ComputeBackend, 'guestsOn'>;
  /** Where it reads the servers' attached volumes (their RBD names); absent: a server with volumes is not covered. */
  readonly volumes?: VolumeApi;
  readonly driverDeps?: FenceDriverDeps;
  /** src/fencing's fenceHost unless a test replaces it. */
  readonly fenceHost?: (d: FenceDriver, o: FenceHostOptions) => Promise<FenceResult>;
  /** The fence_kdump listener, where [kdump] is enabled. */
  readonly kdump?: KdumpEnv;
}

/**
 * The host's levels as devices, each built by its type in the registry. A device is one object shared by every
 * level that names it (the Ceph device also fills the "always after a power-off" slot, so a level that already
 * used it is not run twice). Null when nothing can fence the host.
 */
export function createFencePlan(host: HostConfig, fencing: FencingConfig, deps: FencePlanDeps): FencePlan | null {
  const driver = deps.driver !== undefined ? deps.driver : createFenceDriver(host, fencing, deps.driverDeps);
  const env: DeviceEnv = {
    ...deviceEnv(host, fencing, deps.driverDeps),
    ...(deps.storageFence ? { storageFence: deps.storageFence } : {}),
    servers: (signal) => deps.compute.guestsOn(host.name, signal ? { signal } : {}),
    ...(deps.volumes ? { volumes: deps.volumes } : {}),
    ...(deps.kdump ? { kdump: deps.kdump } : {}),
  };
  const plain = driver ? powerDevice(driver, deps.fenceHost) : undefined;
  // Where cmpha hears fence_kdump messages, no power-off cuts a crash kernel short while it writes the dump.
  const ips = env.addresses ?? [];
  const power = plain && deps.kdump && ips.length > 0 ? kdumpAwarePower(plain, host.name, ips, deps.kdump) : plain;
  const built = new Map<string, FenceDevice | undefined>();
  const device = (name: string): FenceDevice | undefined => {
    if (!built.has(name)) built.set(name, power?.kind === name ? power : levelDeviceType(name)?.device(env));
    return built.get(name);
  };
  const levels: FenceDevice[][] = [];
  for (const level of fenceLevelNames(host, driver?.kind)) {
    const devices = level.map(device);
    // load.ts only keeps levels whose devices exist; a device missing here (no storage fence given) drops its level.
    if (devices.every((d): d is FenceDevice => d !== undefined)) levels.push(devices);
  }
  if (levels.length === 0) return null;
  // A storage device runs after a power-off level too (a BMC that reads off while the host is not is covered).
  const storage = FENCE_DEVICE_TYPES.filter((t) => t.role === 'storage').map((t) => device(t.name)).find((d) => d !== undefined);
  return { host: host.name, levels, ...(storage ? { storage } : {}) };
}
