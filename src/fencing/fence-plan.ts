import type { CephConfig, FencingConfig, HostConfig } from '../config/types.js';
import type { ComputeBackend } from '../compute/types.js';
import type { VolumeApi } from '../openstack/types.js';
import { CephClient } from './ceph/ceph-client.js';
import { monIpsOf } from './ceph/server-disks.js';
import { CephStorageFence } from './ceph/storage-fence.js';
import { createFenceDriver, type FenceDriverDeps } from './create-driver.js';
import { bmcDevice, storageDevice, type FenceDevice, type FencePlan } from './fence-levels.js';
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

/** The host's levels by device name: its configured ones, else its BMC driver alone (none without one). */
export function fenceLevelNames(host: HostConfig, bmcKind: string | undefined): readonly (readonly string[])[] {
  return host.fenceLevels ?? (bmcKind ? [[bmcKind]] : []);
}

export interface FencePlanDeps {
  /** The host's BMC driver (built from its [host:NAME] section when not given). */
  readonly driver?: FenceDriver | null;
  readonly storageFence?: CephStorageFence;
  /** Where the storage device learns which servers (so which images) are on the host. */
  readonly compute: Pick<ComputeBackend, 'guestsOn'>;
  /** Where it reads the servers' attached volumes (their RBD names); absent: a server with volumes is not covered. */
  readonly volumes?: VolumeApi;
  readonly driverDeps?: FenceDriverDeps;
  /** src/fencing's fenceHost unless a test replaces it. */
  readonly fenceHost?: (d: FenceDriver, o: FenceHostOptions) => Promise<FenceResult>;
}

/**
 * The host's levels as devices. The Ceph device is one object shared by its levels and the "always after a
 * power-off" slot, so a level that already used it is not run twice. Null when nothing can fence the host.
 */
export function createFencePlan(host: HostConfig, fencing: FencingConfig, deps: FencePlanDeps): FencePlan | null {
  const driver = deps.driver !== undefined ? deps.driver : createFenceDriver(host, fencing, deps.driverDeps);
  const ips = host.storageIps ?? [];
  const storage = deps.storageFence && ips.length > 0
    ? storageDevice(deps.storageFence, ips, (signal) => deps.compute.guestsOn(host.name, signal ? { signal } : {}), deps.volumes)
    : undefined;
  const bmc = driver ? bmcDevice(driver, deps.fenceHost) : undefined;
  const names = fenceLevelNames(host, driver?.kind);
  const levels: FenceDevice[][] = [];
  for (const level of names) {
    const devices = level.map((name) => (name === 'ceph' ? storage : bmc?.kind === name ? bmc : undefined));
    // load.ts only keeps levels whose devices exist; a device missing here (no storage fence given) drops its level.
    if (devices.every((d): d is FenceDevice => d !== undefined)) levels.push(devices);
  }
  if (levels.length === 0) return null;
  return { host: host.name, levels, ...(storage ? { storage } : {}) };
}
