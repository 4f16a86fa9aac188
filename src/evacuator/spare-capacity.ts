import type { CallOptions, Hypervisor, PlacementApi, Server } from '../openstack/types.js';
import { errorMessage } from '../shared/errors.js';
import { freeCapacity } from './spare-plan.js';

export interface SpareCapacity {
  /** Undefined when neither Nova nor Placement said: the spare is then assumed to fit. */
  readonly freeVcpus?: number;
  readonly freeRamMb?: number;
  readonly source: 'nova' | 'placement' | 'unknown';
  /** Why the figures are unknown (source `unknown`), for the timeline and doctor. */
  readonly why?: string;
}

/**
 * Free room on a spare, as both the recovery pipeline and `cmpha doctor` judge it: the hypervisor's own figures
 * while Nova reports them (before microversion 2.88), else Placement's. Placement failing is no reason to stop
 * a recovery: the spare is then assumed to fit, as before Placement was asked, and `why` says so.
 */
export async function spareCapacity(
  hv: Hypervisor | undefined,
  serversOnHost: readonly Server[] | undefined,
  placement: PlacementApi | undefined,
  opts: CallOptions = {},
): Promise<SpareCapacity> {
  const fromNova = freeCapacity(hv, serversOnHost);
  if (fromNova.freeVcpus !== undefined && fromNova.freeRamMb !== undefined) return { ...fromNova, source: 'nova' };
  if (!hv) return { source: 'unknown', why: 'Nova lists no hypervisor for it' };
  if (!placement) return { source: 'unknown', why: 'Nova reports no usage (microversion 2.88 and later) and Placement was not asked' };
  try {
    const cap = await placement.hostCapacity(hv, opts);
    if (cap) return { freeVcpus: cap.vcpusFree, freeRamMb: cap.ramMbFree, source: 'placement' };
    return { source: 'unknown', why: `Nova reports no usage and Placement gave none (no placement endpoint in the catalog, or no resource provider ${hv.hostname})` };
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    return { source: 'unknown', why: `Nova reports no usage and Placement could not be read: ${errorMessage(err)}` };
  }
}
