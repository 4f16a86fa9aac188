import type { Config } from '../config/types.js';
import type { ComputeBackend } from '../compute/types.js';
import { hostNamed } from '../compute/hosts.js';
import { MgmtAddressBook } from './mgmt-addresses.js';
import type { CrashKernelLook, Prober } from './types.js';
import type { Logger } from '../shared/logger.js';

/** Answers whether a host shows any sign of life; the shape the recovery pipeline's last look takes. */
export type HostLivenessCheck = (host: string, signal?: AbortSignal) => Promise<boolean>;

export interface LivenessDeps {
  readonly config: Config;
  /** The hosts' heartbeats, and the management addresses the cloud records. */
  readonly compute: Pick<ComputeBackend, 'hosts' | 'hostAddresses'>;
  readonly prober: Prober;
  readonly logger: Logger;
  /** The updated_at (epoch ms, Nova's clock) the detector judged the host on, when it knows one. */
  readonly heartbeatSeen?: (host: string) => number | null;
  /** More addresses whose answer means alive (the detector's baseline instance addresses). */
  readonly extraAddresses?: (host: string) => readonly string[];
  /** fence_kdump messages heard lately: while the host's crash kernel sends them, its own addresses' answers are the crash kernel's. */
  readonly crashKernel?: CrashKernelLook;
}

/**
 * The last look before fencing, trusting no clock: the host is alive if any of its addresses answers a direct
 * probe (management — `[host:NAME] mgmt_ip` or the hypervisor's host_ip —, storage, tunnel, and the instance
 * addresses the detector knows answered while it was healthy), or if Nova's `updated_at` has moved since the
 * detector judged it (a heartbeat, or an admin change: either way the safe side). `updated_at` is never
 * compared with this machine's clock, so a Nova clock minutes off neither blocks nor hastens a fence. A probe
 * that fails throws, so the fence step does not run on a guess. While the host's crash kernel sends fence_kdump
 * messages its management, storage and tunnel addresses answer for that kernel and are not asked (judge.ts).
 */
export function createHostLivenessCheck(deps: LivenessDeps): HostLivenessCheck {
  const book = new MgmtAddressBook(deps.config.hosts, deps.compute, deps.logger, 1, 1);
  let round = 0;
  return async (host, signal) => {
    const seen = deps.heartbeatSeen?.(host) ?? null;
    if (seen !== null) {
      const h = hostNamed(await deps.compute.hosts({ name: host, signal }), host);
      if (h && !h.isolated && h.heartbeatAt && h.heartbeatAt.getTime() !== seen) return true;
    }
    const needsHypervisor = deps.config.hosts[host]?.mgmtIp === undefined;
    if (needsHypervisor) await book.refresh(++round, [host], signal);
    const own = book.networks(host).flatMap((a) => (a.ip ? [a.ip] : []));
    const crashed = own.length > 0 ? (deps.crashKernel?.(own) ?? null) : null;
    const extra = (deps.extraAddresses?.(host) ?? []).filter((ip) => !crashed || !own.includes(ip));
    const ips = [...new Set([...(crashed ? [] : own), ...extra])];
    if (ips.length === 0) return false;
    const results = await deps.prober.probe(ips, signal);
    return ips.some((ip) => results.get(ip) === 'alive');
  };
}
