import type { CallOptions, Hypervisor, PlacementApi, Server } from '../openstack/types.js';
import { errorMessage } from '../shared/errors.js';
import { freeCapacity } from './spare-plan.js';

export interface SpareCapacity {
  /** Undefined when neither Placement nor Nova said: the spare is then assumed to fit. */
  readonly freeVcpus?: number;
  readonly freeRamMb?: number;
  readonly source: 'nova' | 'placement' | 'unknown';
  /** Why the figures are unknown (source `unknown`), or why Placement was not the source, for the timeline and doctor. */
  readonly why?: string;
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
): Promise<SpareCapacity> {
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
