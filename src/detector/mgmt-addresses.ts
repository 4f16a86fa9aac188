import type { HostConfig } from '../config/types.js';
import { isIpLiteral } from '../config/fields.js';
import type { ComputeBackend } from '../compute/types.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { NetworkRole } from './types.js';

export interface MgmtAddress {
  readonly ip: string | null;
  readonly source: 'config' | 'hypervisor' | null;
  /** Why no usable address is known, when ip is null. */
  readonly problem?: string;
}

/**
 * The management-IP rule, for the detector and the last look before fencing alike: `[host:NAME] mgmt_ip`
 * first, else the hypervisor's host_ip when it is an IP literal (a name would send DNS off the machine).
 */
export function mgmtAddressOf(configured: string | undefined, hypervisorIp: string | undefined): MgmtAddress {
  if (configured !== undefined) return { ip: configured, source: 'config' };
  if (hypervisorIp === undefined) return { ip: null, source: null, problem: 'no mgmt_ip configured and no hypervisor host_ip' };
  if (!isIpLiteral(hypervisorIp)) return { ip: null, source: null, problem: `hypervisor host_ip "${hypervisorIp}" is not an IP literal` };
  return { ip: hypervisorIp, source: 'hypervisor' };
}

/**
 * Where each host's management IP comes from: `[host:NAME] mgmt_ip` first, else the hypervisor's host_ip.
 * Hypervisors change rarely, so they are listed every `refreshRounds` rounds (sooner when a host appears
 * that they do not cover), never every round.
 */
export class MgmtAddressBook {
  private hypervisorIps = new Map<string, string>();
  private lastRefreshRound: number | null = null;

  constructor(
    private readonly hosts: Readonly<Record<string, HostConfig>>,
    private readonly compute: Pick<ComputeBackend, 'hostAddresses'>,
    private readonly logger: Logger,
    private readonly refreshRounds = 30,
    private readonly missingRetryRounds = 5,
  ) {}

  /** Lists hypervisors when due. A failed listing keeps the old addresses. */
  async refresh(round: number, enabledHosts: readonly string[], signal?: AbortSignal): Promise<void> {
    const needHypervisor = enabledHosts.filter((h) => this.hosts[h]?.mgmtIp === undefined);
    if (needHypervisor.length === 0) return;
    const since = this.lastRefreshRound === null ? Infinity : round - this.lastRefreshRound;
    const missing = needHypervisor.some((h) => !this.hypervisorIps.has(h));
    if (since < this.refreshRounds && !(missing && since >= this.missingRetryRounds)) return;
    this.lastRefreshRound = round;
    try {
      this.hypervisorIps = new Map(await this.compute.hostAddresses({ signal }));
    } catch (err) {
      this.logger.warn({ err: errorMessage(err) }, 'cannot list hypervisors; keeping the management IPs known so far');
    }
  }

  /** The management address first, then the storage and tunnel addresses the host has. */
  networks(host: string): Array<MgmtAddress & { readonly role: NetworkRole }> {
    const out: Array<MgmtAddress & { readonly role: NetworkRole }> = [{ role: 'mgmt', ...this.resolve(host) }];
    const cfg = this.hosts[host];
    for (const ip of cfg?.storageIps ?? []) out.push({ role: 'storage', ip, source: 'config' });
    if (cfg?.tunnelIp !== undefined) out.push({ role: 'tunnel', ip: cfg.tunnelIp, source: 'config' });
    return out;
  }

  resolve(host: string): MgmtAddress {
    return mgmtAddressOf(this.hosts[host]?.mgmtIp, this.hypervisorIps.get(host));
  }
}
