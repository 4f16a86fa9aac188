import type { FencingConfig, HostConfig } from '../config/types.js';
import type { Logger } from '../shared/logger.js';
import type { CommandRunner } from '../shared/run-command.js';
import type { DeviceEnv } from './device.js';
import { powerDeviceType } from './devices/registry.js';
import type { FenceDriver } from './types.js';

export interface FenceDriverDeps {
  readonly logger?: Logger;
  /** Runs ipmitool and fence commands; defaults to the shared runCommand. */
  readonly runner?: CommandRunner;
  /** Reads the PEM file named by redfish_cacert; defaults to the file system. */
  readonly readCaFile?: (path: string) => string;
  readonly redfishRequestTimeoutMs?: number;
}

/** What a device of this host is built with, besides its own settings. */
export function deviceEnv(host: HostConfig, fencing: Pick<FencingConfig, 'ipmitoolPath' | 'proxy'>, deps: FenceDriverDeps = {}): DeviceEnv {
  return {
    host: host.name, storageIps: host.storageIps ?? [], addresses: hostAddressesOf(host), ipmitoolPath: fencing.ipmitoolPath,
    ...(fencing.proxy ? { proxy: fencing.proxy } : {}),
    ...(deps.logger ? { logger: deps.logger } : {}),
    ...(deps.runner ? { runner: deps.runner } : {}),
    ...(deps.readCaFile ? { readFile: deps.readCaFile } : {}),
    ...(deps.redfishRequestTimeoutMs ? { redfishRequestTimeoutMs: deps.redfishRequestTimeoutMs } : {}),
  };
}

/** The host's own addresses in its section (mgmt_ip, storage_ips, tunnel_ip), each once. */
export function hostAddressesOf(host: Pick<HostConfig, 'mgmtIp' | 'storageIps' | 'tunnelIp'>): readonly string[] {
  return [...new Set([...(host.mgmtIp ? [host.mgmtIp] : []), ...(host.storageIps ?? []), ...(host.tunnelIp ? [host.tunnelIp] : [])])];
}

/**
 * The power switch of one host (its `driver`'s type from the registry), or null when the host has
 * `driver = none`: such a host can never be proven off, so it is never evacuated. Throws `fence_config_invalid`
 * for settings that cannot work (a name instead of an IP for IPMI, an unreadable CA file), naming the host.
 */
export function createFenceDriver(host: HostConfig, fencing: FencingConfig, deps: FenceDriverDeps = {}): FenceDriver | null {
  const type = powerDeviceType(host.fence.driver);
  return type ? type.switch(host.fence, deviceEnv(host, fencing, deps)) : null;
}
