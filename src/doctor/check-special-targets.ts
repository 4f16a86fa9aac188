import type { ComputeBackend, Guest, HostCapabilities } from '../compute/types.js';
import type { EvacuationConfig } from '../config/types.js';
import { hostOffers, specialNeedsOf } from '../evacuator/special-needs.js';
import { errorMessage } from '../shared/errors.js';
import type { DoctorCheck } from './types.js';

/**
 * Servers that need a special target (dedicated CPUs, NUMA nodes, PCI devices, vGPUs), judged before any failure:
 * for each protected host's such server, which spare can host it. None: `fail` when every spare lacks what it
 * needs (named), `warn` when some spare's capabilities cannot be read (a failure would leave it to the scheduler,
 * which may find no host either). Nothing special anywhere: no check.
 */
export async function specialTargetsChecks(
  compute: ComputeBackend, computes: readonly string[], spares: readonly string[],
  listed: ReadonlyMap<string, readonly Guest[] | Error>, ev: Pick<EvacuationConfig, 'pciAliasResources'>, signal?: AbortSignal,
): Promise<DoctorCheck[]> {
  const special: Array<{ host: string; server: Guest; needs: ReturnType<typeof specialNeedsOf> }> = [];
  for (const host of computes) {
    const list = listed.get(host);
    if (!list || list instanceof Error) continue;
    for (const server of list) {
      const needs = specialNeedsOf(server, ev.pciAliasResources ? { pciAliasResources: ev.pciAliasResources } : {});
      if (needs.length > 0) special.push({ host, server, needs });
    }
  }
  if (special.length === 0) return [];
  let caps: ReadonlyMap<string, HostCapabilities> = new Map();
  if (compute.hostCapabilities && spares.length > 0) {
    try {
      caps = await compute.hostCapabilities(spares, signal ? { signal } : {});
    } catch (err) {
      if (signal?.aborted) throw err;
      return [{ name: 'special-targets', status: 'warn', detail: `${special.length} server(s) need a special target, and the spares' capabilities cannot be read: ${errorMessage(err)}` }];
    }
  }
  const checks: DoctorCheck[] = [];
  const fine: string[] = [];
  for (const { host, server, needs } of special) {
    const verdicts = spares.map((s) => ({ spare: s, v: hostOffers(needs, caps.get(s)) }));
    const capable = verdicts.filter((x) => x.v.kind === 'yes').map((x) => x.spare);
    const what = needs.map((n) => n.what).join(', ');
    if (capable.length > 0) {
      fine.push(`${server.name} on ${host} → ${capable.join(', ')}`);
      continue;
    }
    const unknown = verdicts.some((x) => x.v.kind === 'unknown');
    const why = verdicts.length === 0 ? 'there is no spare' : verdicts.map((x) => `${x.spare}: ${'why' in x.v ? x.v.why : ''}`).join('; ');
    checks.push({
      name: 'special-targets', status: unknown ? 'warn' : 'fail',
      detail: `${host}: server ${server.name} (${server.id}) needs ${what}: ${unknown ? 'no spare is known to host it' : 'no spare can host it'} (${why})`,
    });
  }
  if (fine.length > 0) checks.push({ name: 'special-targets', status: 'ok', detail: `${fine.length} server(s) needing a special target have a capable spare: ${fine.join('; ')}` });
  return checks;
}
