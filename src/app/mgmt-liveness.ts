import type { Config } from '../config/types.js';
import { isIpLiteral } from '../config/fields.js';
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
    let ip = config.hosts[host]?.mgmtIp;
    if (ip === undefined) {
      const hv = (await nova.listHypervisors({ signal })).find((h) => h.serviceHost === host);
      ip = hv?.hostIp !== undefined && isIpLiteral(hv.hostIp) ? hv.hostIp : undefined;
    }
    if (ip === undefined) return false;
    const results = await prober.probe([ip], signal);
    return results.get(ip) === 'alive';
  };
}
