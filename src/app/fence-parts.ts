import type { Config, HostConfig } from '../config/types.js';
import { createFenceDriver } from '../fencing/create-driver.js';
import { powerDeviceType } from '../fencing/devices/registry.js';
import { PowerWitness } from '../detector/power-witness.js';
import type { CrashKernelLook } from '../detector/types.js';
import { createFencePlan, createStorageFence } from '../fencing/fence-plan.js';
import type { FencePlan } from '../fencing/fence-levels.js';
import type { FenceDriver } from '../fencing/types.js';
import type { ComputeBackend } from '../compute/types.js';
import type { VolumeApi } from '../openstack/types.js';
import type { FenceHostFn } from '../pipeline/steps/fence.js';
import type { RecoveryDeps } from '../pipeline/recovery-deps.js';
import type { Logger } from '../shared/logger.js';
import type { KdumpEnv } from '../fencing/device.js';
import { hostAddressesOf } from '../fencing/create-driver.js';
import { KdumpListener } from '../fencing/kdump/listener.js';

// The recovery's fencing and storage parts, built from config by the composition root (root.ts).

/** The config, or where the config as it is now is read (src/app/live-fencing.ts). */
export type ConfigNow = Config | (() => Config);

const now = (config: ConfigNow): (() => Config) => (typeof config === 'function' ? config : () => config);

/**
 * Fence drivers built once per host from config, and again when the host's section changes; a host without a
 * `[host:NAME]` section has none. `onCreated` sees each driver built (the controller initialises its metrics there).
 */
export function fenceDriversFromConfig(config: ConfigNow, logger: Logger, onCreated?: (driver: FenceDriver) => void): (host: string) => FenceDriver | null {
  const current = now(config);
  const cache = new Map<string, { hc: HostConfig | undefined; driver: FenceDriver | null }>();
  return (host) => {
    const cfg = current();
    const hc = cfg.hosts[host];
    let built = cache.get(host);
    if (!built || built.hc !== hc) {
      const driver = hc ? createFenceDriver(hc, cfg.fencing, { logger }) : null;
      if (driver) onCreated?.(driver);
      built = { hc, driver };
      cache.set(host, built);
    }
    return built.driver;
  };
}

/**
 * Each host's fence levels from config, over the given drivers (so one BMC driver per host serves both) and
 * one storage fence for the configured Ceph.
 */
export function fencePlansFromConfig(
  config: ConfigNow, compute: Pick<ComputeBackend, 'guestsOn'>, driverFor: (host: string) => FenceDriver | null, fenceHost?: FenceHostFn, volumes?: VolumeApi,
  kdump?: KdumpEnv,
): (host: string) => FencePlan | null | undefined {
  const current = now(config);
  const start = current();
  const storageFence = start.ceph ? createStorageFence(start.ceph, start.fencing) : undefined;
  const cache = new Map<string, { hc: HostConfig; plan: FencePlan | null }>();
  return (host) => {
    const cfg = current();
    const hc = cfg.hosts[host];
    // A host without a section keeps the one-driver path (whatever driverFor gives it).
    if (!hc) return undefined;
    let built = cache.get(host);
    if (!built || built.hc !== hc) {
      built = {
        hc,
        plan: createFencePlan(hc, cfg.fencing, {
          driver: driverFor(host), compute, ...(storageFence ? { storageFence } : {}), ...(fenceHost ? { fenceHost } : {}), ...(volumes ? { volumes } : {}),
          ...(kdump ? { kdump } : {}),
        }),
      };
      cache.set(host, built);
    }
    return built.plan;
  };
}

/** The fence_kdump listener where [kdump] is enabled, not yet bound (start it; stop it with the process). */
export function kdumpFromConfig(config: ConfigNow, logger: Logger, onDatagram?: (result: 'valid' | 'invalid' | 'unknown_sender') => void): { listener: KdumpListener; env: KdumpEnv } | undefined {
  const current = now(config);
  const k = current().kdump;
  if (!k) return undefined;
  const listener = new KdumpListener({
    host: k.listen.host, port: k.listen.port, quietAfterMs: k.quietAfterMs, logger: logger.child({ component: 'kdump' }),
    hostOf: (ip) => Object.values(current().hosts).find((h) => hostAddressesOf(h).includes(ip))?.name,
    ...(onDatagram ? { onDatagram } : {}),
  });
  return { listener, env: { watch: listener, waitMs: k.waitMs, quietAfterMs: k.quietAfterMs, maxDumpWaitMs: k.maxDumpWaitMs, pollMs: 250 } };
}

/**
 * The detector's view of the listener: the host's crash kernel is sending when a fence_kdump message came from one
 * of its addresses within quiet_after, the same window the kdump fence device counts as "in its crash kernel".
 */
export function crashKernelLook(env: KdumpEnv): CrashKernelLook {
  return (ips) => {
    const last = env.watch.lastFrom(ips);
    if (!last || env.watch.clock.now() - last.lastAt >= env.quietAfterMs) return null;
    return { ip: last.ip, count: last.count, firstAt: last.firstAt, lastAt: last.lastAt };
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

/**
 * The detector's power witness over the hosts' own fence drivers (the registry's read path, the same status read
 * the fence step and the power watch use): only device types that read the chassis themselves (`witness`: ipmi,
 * redfish), never an operator's command or a noop, and only `powerStatus`.
 */
export function powerWitnessFromConfig(config: Config, logger: Logger, mono: () => number = () => performance.now()): PowerWitness {
  const driverFor = fenceDriversFromConfig(config, logger);
  return new PowerWitness({
    mono, log: logger,
    readerFor: (host) => {
      const d = driverFor(host);
      return d && powerDeviceType(d.kind)?.witness ? { read: (signal) => d.powerStatus(signal), where: d.target } : null;
    },
  });
}
