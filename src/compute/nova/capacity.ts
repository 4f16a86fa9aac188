import type { CallOptions, Hypervisor, PlacementApi, Server } from '../../openstack/types.js';
import { errorMessage } from '../../shared/errors.js';
import type { HostCapacity } from '../types.js';

/** Where a Nova host's free room was read: Placement, the hypervisor's own figures, or nowhere. */
export interface NovaCapacity extends HostCapacity {
  readonly source: 'nova' | 'placement' | 'unknown';
}

/**
 * Free capacity of a host. Usage figures come from the hypervisor; from microversion 2.88 they are gone,
 * and what runs there is summed from the servers' flavors instead.
 */
export function freeCapacity(hv: Hypervisor | undefined, serversOnHost: readonly Server[] | undefined): { freeVcpus?: number; freeRamMb?: number } {
  if (!hv || hv.vcpus === undefined || hv.memoryMb === undefined) return {};
  if (hv.vcpusUsed !== undefined && hv.memoryMbUsed !== undefined) {
    return { freeVcpus: hv.vcpus - hv.vcpusUsed, freeRamMb: hv.memoryMb - hv.memoryMbUsed };
  }
  if (!serversOnHost) return {};
  const used = serversOnHost.reduce((acc, s) => ({ v: acc.v + (s.flavor.vcpus ?? 0), r: acc.r + (s.flavor.ramMb ?? 0) }), { v: 0, r: 0 });
  return { freeVcpus: hv.vcpus - used.v, freeRamMb: hv.memoryMb - used.r };
}

/** Whether the hypervisor lacks usage figures, so the servers on it must be summed. */
export function needsServerSum(hv: Hypervisor | undefined): boolean {
  return hv !== undefined && hv.vcpus !== undefined && (hv.vcpusUsed === undefined || hv.memoryMbUsed === undefined);
}

/**
 * Free room on a spare, as both the recovery pipeline and `cmpha doctor` judge it. Placement first: it is what
 * Nova's scheduler decides with, allocation ratios and reserved memory included. The hypervisor's own figures
 * (os-hypervisors, which cmpha reads at microversion 2.87 so they are there) are the fallback; they know no
 * allocation ratio, so they can call an overcommitted spare full. Placement failing is no reason to stop a
 * recovery: the next source is used, and at worst the spare is assumed to fit, and `why` says so.
 */
export async function spareCapacity(
  hv: Hypervisor | undefined,
  serversOnHost: readonly Server[] | undefined,
  placement: PlacementApi | undefined,
  opts: CallOptions = {},
): Promise<NovaCapacity> {
  if (!hv) return { source: 'unknown', why: 'Nova lists no hypervisor for it' };
  let why: string;
  if (placement) {
    try {
      const cap = await placement.hostCapacity(hv, opts);
      if (cap) return { freeVcpus: cap.vcpusFree, freeRamMb: cap.ramMbFree, source: 'placement' };
      why = `Placement gave no figures (no placement endpoint in the catalog, or no resource provider ${hv.hostname})`;
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      why = `Placement could not be read: ${errorMessage(err)}`;
    }
  } else {
    why = 'Placement was not asked';
  }
  const fromNova = freeCapacity(hv, serversOnHost);
  if (fromNova.freeVcpus !== undefined && fromNova.freeRamMb !== undefined) return { ...fromNova, source: 'nova', why };
  return { source: 'unknown', why: `${why}, and Nova reports no usage` };
}
