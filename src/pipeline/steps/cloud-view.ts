import { hostNamed } from '../../compute/hosts.js';
import { NOVA_NAMES, type CloudNames, type ComputeHost, type HostCapacity } from '../../compute/types.js';
import { isSpareHost, spareHostUnusable } from '../../evacuator/spare-plan.js';
import type { IncidentRecord } from '../../incidents/types.js';
import { CmphaError } from '../../shared/errors.js';
import type { StepContext } from './context.js';

/**
 * What the steps after the fence read of the cloud before they change anything: the compute hosts (the failed
 * one, whose service is forced down and disabled; the reserved spares) and the spares' free capacity. Read once,
 * while the fence runs, so the force-down follows the fence confirmed by one call instead of a read and a call,
 * and the spare's choice and enable wait for no list. Reads only: nothing here needs the fence, and nothing
 * read here lets a mutation skip its own guard (each step still asks `assertFenced` right before it acts).
 */
export interface CloudView {
  readonly hosts: readonly ComputeHost[];
  /**
   * Free capacity of the reserved spares that could take the servers, read when this incident will choose a
   * spare by capacity (none recorded yet, no operator's target, `spare_count` above 0); absent otherwise.
   */
  readonly spareCapacity?: ReadonlyMap<string, HostCapacity>;
}

export async function readCloudView(ctx: StepContext, rec: IncidentRecord): Promise<CloudView> {
  const hosts = await ctx.compute.hosts({ signal: ctx.signal });
  if (rec.spares || rec.requestedTarget || ctx.evacuation.spareCount <= 0) return { hosts };
  const zone = hostNamed(hosts, rec.host)?.zone ?? rec.zone;
  // Claims are read when the spare is chosen (they change); a spare no claim could make usable is not asked about.
  const candidates = hosts.filter((s) => s.name !== rec.host && isSpareHost(s, ctx.evacuation.spareHosts) && !spareHostUnusable(s, { zone }));
  if (candidates.length === 0) return { hosts, spareCapacity: new Map() };
  return { hosts, spareCapacity: await ctx.compute.capacity(candidates.map((s) => s.name), { signal: ctx.signal }) };
}

/** The failed host as the view lists it; it must be one the cloud knows. */
export function failedHostIn(view: CloudView, host: string, names: CloudNames = NOVA_NAMES): ComputeHost {
  const h = hostNamed(view.hosts, host);
  if (!h) throw new CmphaError('service_not_found', `${names.cloud} has no ${names.agent} service on host ${host}`);
  return h;
}
