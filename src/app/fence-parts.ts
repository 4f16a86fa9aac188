import type { Config } from '../config/types.js';
import { createFenceDriver } from '../fencing/create-driver.js';
import { createFencePlan, createStorageFence } from '../fencing/fence-plan.js';
import type { FencePlan } from '../fencing/fence-levels.js';
import type { FenceDriver } from '../fencing/types.js';
import type { ComputeBackend } from '../compute/types.js';
import type { VolumeApi } from '../openstack/types.js';
import type { FenceHostFn } from '../pipeline/steps/fence.js';
import type { RecoveryDeps } from '../pipeline/recovery-deps.js';
import type { Logger } from '../shared/logger.js';

// The recovery's fencing and storage parts, built from config by the composition root (root.ts).

/**
 * Fence drivers built once per host from config; a host without a `[host:NAME]` section has none.
 * `onCreated` sees each driver once (the controller initialises its metrics there).
 */
export function fenceDriversFromConfig(config: Config, logger: Logger, onCreated?: (driver: FenceDriver) => void): (host: string) => FenceDriver | null {
  const cache = new Map<string, FenceDriver | null>();
  return (host) => {
    if (!cache.has(host)) {
      const hc = config.hosts[host];
      const driver = hc ? createFenceDriver(hc, config.fencing, { logger }) : null;
      if (driver) onCreated?.(driver);
      cache.set(host, driver);
    }
    return cache.get(host)!;
  };
}

/**
 * Each host's fence levels from config, over the given drivers (so one BMC driver per host serves both) and
 * one storage fence for the configured Ceph.
 */
export function fencePlansFromConfig(
  config: Config, compute: Pick<ComputeBackend, 'guestsOn'>, driverFor: (host: string) => FenceDriver | null, fenceHost?: FenceHostFn, volumes?: VolumeApi,
): (host: string) => FencePlan | null | undefined {
  const storageFence = config.ceph ? createStorageFence(config.ceph, config.fencing) : undefined;
  const cache = new Map<string, FencePlan | null>();
  return (host) => {
    const hc = config.hosts[host];
    // A host without a section keeps the one-driver path (whatever driverFor gives it).
    if (!hc) return undefined;
    if (!cache.has(host)) {
      cache.set(host, createFencePlan(hc, config.fencing, {
        driver: driverFor(host), compute, ...(storageFence ? { storageFence } : {}), ...(fenceHost ? { fenceHost } : {}), ...(volumes ? { volumes } : {}),
      }));
    }
    return cache.get(host)!;
  };
}

/** The single-writer proof where [ceph] is configured: every recovered server's disks, one watcher each. */
export function singleWriterFromConfig(config: Config, volumes?: VolumeApi): RecoveryDeps['singleWriter'] {
  if (!config.ceph) return undefined;
  return {
    fence: createStorageFence(config.ceph, config.fencing),
    storageIpsOf: (host) => config.hosts[host]?.storageIps ?? [],
    timeoutMs: config.ceph.writerProofTimeoutMs, pollIntervalMs: 1000,
    ...(volumes ? { volumes } : {}),
  };
}

/** Keeps a fenced host's blocklist entries from expiring while its incident is open: re-added at a third of their life. */
export function storageRenewalFromConfig(config: Config): Pick<RecoveryDeps, 'renewStorageFence' | 'storageRenewEveryMs'> {
  if (!config.ceph) return {};
  const fence = createStorageFence(config.ceph, config.fencing);
  const expireS = config.ceph.blocklistExpireS;
  return {
    storageRenewEveryMs: Math.max(10_000, (expireS * 1000) / 3),
    renewStorageFence: async (host) => {
      const ips = config.hosts[host]?.storageIps ?? [];
      if (ips.length > 0) await fence.renew(ips);
    },
  };
}
