import { readFileSync } from 'node:fs';
import type { FencingConfig, HostConfig } from '../config/types.js';
import { CmphaError, errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { CommandRunner } from '../shared/run-command.js';
import { FenceCode } from './codes.js';
import { IpmiDriver } from './ipmi-driver.js';
import { NoopDriver } from './noop-driver.js';
import { RedfishDriver } from './redfish-driver.js';
import type { FenceDriver } from './types.js';

export interface FenceDriverDeps {
  readonly logger?: Logger;
  /** Runs ipmitool; defaults to the shared runCommand. */
  readonly runner?: CommandRunner;
  /** Reads the PEM file named by redfish_cacert; defaults to the file system. */
  readonly readCaFile?: (path: string) => string;
  readonly redfishRequestTimeoutMs?: number;
}

/**
 * The driver for one host, or null when the host has `driver = none`: such a host can never be proven off, so it
 * is never evacuated. Throws `fence_config_invalid` for settings that cannot work (a name instead of an IP for
 * IPMI, an unreadable CA file), naming the host.
 */
export function createFenceDriver(host: HostConfig, fencing: FencingConfig, deps: FenceDriverDeps = {}): FenceDriver | null {
  const fence = host.fence;
  switch (fence.driver) {
    case 'none':
      return null;
    case 'noop':
      return new NoopDriver(host.name);
    case 'ipmi':
      return new IpmiDriver({
        name: host.name, address: fence.address, port: fence.port, username: fence.username, password: fence.password,
        ipmi: fence.ipmi, ipmitoolPath: fencing.ipmitoolPath,
        ...(deps.runner ? { runner: deps.runner } : {}),
        ...(deps.logger ? { logger: deps.logger } : {}),
      });
    case 'redfish': {
      let ca: string | undefined;
      if (fence.redfish.cacert) {
        try {
          ca = (deps.readCaFile ?? ((p: string) => readFileSync(p, 'utf8')))(fence.redfish.cacert);
        } catch (err) {
          throw new CmphaError(FenceCode.configInvalid, `[host:${host.name}] redfish_cacert: cannot read ${fence.redfish.cacert}: ${errorMessage(err)}`, { cause: err });
        }
      }
      return new RedfishDriver({
        name: host.name, address: fence.address, port: fence.port, username: fence.username, password: fence.password,
        redfish: fence.redfish,
        ...(ca ? { ca } : {}),
        ...(fencing.proxy ? { proxy: fencing.proxy } : {}),
        ...(deps.redfishRequestTimeoutMs ? { requestTimeoutMs: deps.redfishRequestTimeoutMs } : {}),
        ...(deps.logger ? { logger: deps.logger } : {}),
      });
    }
  }
}
