import type { HostCapabilities } from '../compute/types.js';

/**
 * What a server needs of its destination beyond vCPU and RAM, read from its flavor's extra specs (and its ports),
 * and whether a host offers it, as Nova's scheduler would judge it: dedicated CPUs are Placement's `PCPU`
 * inventory (`hw:cpu_policy=dedicated`, Train+), vGPUs its `VGPU` inventory (`resources:VGPU`), a PCI alias the
 * resource class its `[pci] alias` names when the computes report PCI in Placement (`[evacuation]
 * pci_alias_resources` says which), an SR-IOV port (`binding:vnic_type` direct) a provider with the
 * `CUSTOM_VNIC_TYPE_DIRECT` trait (Neutron's SR-IOV agent reports it), a NUMA topology (`hw:numa_nodes`) as many
 * NUMA cells on the host (the hypervisor's `cpu_info` topology). Pure.
 */
export type SpecialKind = 'dedicated-cpu' | 'numa' | 'pci' | 'sriov' | 'vgpu';

export interface SpecialNeed {
  readonly kind: SpecialKind;
  /** For people: what it needs, with the flavor key that says so. */
  readonly what: string;
  /** A Placement resource class and how many; a trait; NUMA cells; or nothing the cloud can be asked about (why). */
  readonly wants:
    | { readonly resource: string; readonly amount: number }
    | { readonly trait: string }
    | { readonly numaNodes: number }
    | { readonly unknown: string };
}

/** Flavor extra specs that ask for a special target (besides every `resources:*`). */
export const SPECIAL_SPEC_KEYS: readonly string[] = ['hw:cpu_policy', 'hw:numa_nodes', 'pci_passthrough:alias'];

/** The trait Neutron's SR-IOV agent reports on its providers (when bandwidth is configured). */
export const SRIOV_TRAIT = 'CUSTOM_VNIC_TYPE_DIRECT';

/** `a:2,b` → [['a', 2], ['b', 1]]. */
function aliases(text: string): Array<[string, number]> {
  return text.split(',').map((p) => p.trim()).filter((p) => p !== '').map((p) => {
    const [name, count] = p.split(':');
    const n = Number(count ?? '1');
    return [name!.trim(), Number.isInteger(n) && n > 0 ? n : 1];
  });
}

export function specialNeedsOf(
  server: { readonly flavor: { readonly vcpus?: number; readonly extraSpecs?: Readonly<Record<string, string>> }; readonly directPorts?: number },
  opts: { readonly pciAliasResources?: ReadonlyMap<string, string> } = {},
): SpecialNeed[] {
  const spec = server.flavor.extraSpecs ?? {};
  const out: SpecialNeed[] = [];
  const pcpu = Number(spec['resources:PCPU']);
  if (spec['hw:cpu_policy']?.toLowerCase() === 'dedicated' || pcpu > 0) {
    const amount = pcpu > 0 ? pcpu : server.flavor.vcpus ?? 1;
    out.push({ kind: 'dedicated-cpu', what: `${amount} dedicated CPU(s) (${pcpu > 0 ? 'resources:PCPU' : 'hw:cpu_policy=dedicated'})`, wants: { resource: 'PCPU', amount } });
  }
  const numa = Number(spec['hw:numa_nodes']);
  if (Number.isInteger(numa) && numa > 0) out.push({ kind: 'numa', what: `${numa} NUMA node(s) (hw:numa_nodes)`, wants: { numaNodes: numa } });
  const vgpu = Number(spec['resources:VGPU']);
  if (vgpu > 0) out.push({ kind: 'vgpu', what: `${vgpu} vGPU(s) (resources:VGPU)`, wants: { resource: 'VGPU', amount: vgpu } });
  if (spec['pci_passthrough:alias']) {
    for (const [alias, count] of aliases(spec['pci_passthrough:alias'])) {
      const rc = opts.pciAliasResources?.get(alias);
      out.push({
        kind: 'pci', what: `${count} PCI device(s) of alias ${alias} (pci_passthrough:alias)`,
        wants: rc ? { resource: rc, amount: count } : { unknown: `no resource class known for PCI alias ${alias}: map it in [evacuation] pci_alias_resources (what its [pci] alias tracks in Placement)` },
      });
    }
  }
  if ((server.directPorts ?? 0) > 0) {
    out.push({ kind: 'sriov', what: `${server.directPorts} SR-IOV port(s) (binding:vnic_type direct)`, wants: { trait: SRIOV_TRAIT } });
  }
  return out;
}

/** Whether `caps` offers `need`: yes, no (what is missing), or unknown (the cloud did not say). */
export type Verdict = { readonly kind: 'yes' } | { readonly kind: 'no' | 'unknown'; readonly why: string };

export function offers(need: SpecialNeed, caps: HostCapabilities | undefined): Verdict {
  const w = need.wants;
  if ('unknown' in w) return { kind: 'unknown', why: w.unknown };
  if (!caps) return { kind: 'unknown', why: 'its capabilities could not be read' };
  if ('resource' in w) {
    if (!caps.resources) return { kind: 'unknown', why: `its Placement inventories could not be read${caps.why ? ` (${caps.why})` : ''}` };
    const free = caps.resources.get(w.resource) ?? 0;
    return free >= w.amount ? { kind: 'yes' } : { kind: 'no', why: free === 0 && !caps.resources.has(w.resource) ? `no ${w.resource} inventory` : `${w.resource} ${free} free, needs ${w.amount}` };
  }
  if ('trait' in w) {
    if (!caps.traits) return { kind: 'unknown', why: `its traits could not be read${caps.why ? ` (${caps.why})` : ''}` };
    return caps.traits.has(w.trait) ? { kind: 'yes' } : { kind: 'no', why: `no provider with trait ${w.trait}` };
  }
  if (caps.numaNodes === undefined) return { kind: 'unknown', why: 'the hypervisor does not say its NUMA topology' };
  return caps.numaNodes >= w.numaNodes ? { kind: 'yes' } : { kind: 'no', why: `${caps.numaNodes} NUMA node(s), needs ${w.numaNodes}` };
}

/** Every need against one host: yes when all are met, else the first no (or unknown) with what is missing. */
export function hostOffers(needs: readonly SpecialNeed[], caps: HostCapabilities | undefined): Verdict {
  let unknown: Verdict | undefined;
  for (const n of needs) {
    const v = offers(n, caps);
    if (v.kind === 'no') return { kind: 'no', why: `${n.what}: ${v.why}` };
    if (v.kind === 'unknown') unknown ??= { kind: 'unknown', why: `${n.what}: ${v.why}` };
  }
  return unknown ?? { kind: 'yes' };
}
