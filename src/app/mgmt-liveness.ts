import type { Config } from '../config/types.js';
import { mgmtAddressOf } from '../detector/mgmt-addresses.js';
import type { Prober } from '../detector/types.js';
import type { NovaApi } from '../openstack/types.js';
import type { HostAliveCheck } from '../pipeline/index.js';

/**
 * The last look before fencing, by the management IP: `[host:NAME] mgmt_ip`, else the hypervisor's host_ip.
 * An address we cannot find is no sign of life; a probe that fails throws, so the fence step does not run on
 * a guess.
 */
export function mgmtLivenessCheck(config: Config, nova: NovaApi, prober: Prober): HostAliveCheck {
  return async (host, signal) => {
    const configured = config.hosts[host]?.mgmtIp;
    const hv = configured === undefined ? (await nova.listHypervisors({ signal })).find((h) => h.serviceHost === host) : undefined;
    const { ip } = mgmtAddressOf(configured, hv?.hostIp);
    if (ip === null) return false;
    const results = await prober.probe([ip], signal);
    return results.get(ip) === 'alive';
  };
}
