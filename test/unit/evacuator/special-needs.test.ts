import { describe, expect, it } from 'vitest';
import { hostOffers, offers, specialNeedsOf, SRIOV_TRAIT } from '../../../src/evacuator/special-needs.js';

const flavor = (extraSpecs: Record<string, string>, vcpus = 4) => ({ flavor: { vcpus, extraSpecs } });
const caps = (resources: Record<string, number>, traits: string[] = [], numaNodes?: number) => ({
  resources: new Map(Object.entries(resources)), traits: new Set(traits), ...(numaNodes !== undefined ? { numaNodes } : {}),
});

describe('special needs', () => {
  it('dedicated CPUs: PCPU as many as the flavor has vCPUs (or resources:PCPU)', () => {
    const [n] = specialNeedsOf(flavor({ 'hw:cpu_policy': 'dedicated' }));
    expect(n).toMatchObject({ kind: 'dedicated-cpu', wants: { resource: 'PCPU', amount: 4 } });
    expect(offers(n!, caps({ PCPU: 4 }))).toEqual({ kind: 'yes' });
    expect(offers(n!, caps({ PCPU: 3 }))).toEqual({ kind: 'no', why: 'PCPU 3 free, needs 4' });
    expect(offers(n!, caps({}))).toEqual({ kind: 'no', why: 'no PCPU inventory' });
    expect(specialNeedsOf(flavor({ 'resources:PCPU': '2' }))[0]).toMatchObject({ wants: { resource: 'PCPU', amount: 2 } });
    expect(specialNeedsOf(flavor({ 'hw:cpu_policy': 'shared' }))).toEqual([]);
  });

  it('NUMA: as many NUMA nodes; a hypervisor that does not say is unknown', () => {
    const [n] = specialNeedsOf(flavor({ 'hw:numa_nodes': '2' }));
    expect(offers(n!, caps({}, [], 2)).kind).toBe('yes');
    expect(offers(n!, caps({}, [], 1))).toEqual({ kind: 'no', why: '1 NUMA node(s), needs 2' });
    expect(offers(n!, caps({})).kind).toBe('unknown');
  });

  it('PCI: the alias\'s configured resource class, each alias of the list; unknown without one', () => {
    const needs = specialNeedsOf(flavor({ 'pci_passthrough:alias': 'a1:2, a2' }), { pciAliasResources: new Map([['a1', 'CUSTOM_PCI_8086_1572']]) });
    expect(needs.map((n) => n.wants)).toEqual([{ resource: 'CUSTOM_PCI_8086_1572', amount: 2 }, { unknown: expect.stringMatching(/PCI alias a2: map it in \[evacuation\] pci_alias_resources/) }]);
    expect(offers(needs[0]!, caps({ CUSTOM_PCI_8086_1572: 2 })).kind).toBe('yes');
    expect(hostOffers(needs, caps({ CUSTOM_PCI_8086_1572: 2 })).kind).toBe('unknown');
  });

  it('SR-IOV ports: a provider with the direct vNIC trait', () => {
    const [n] = specialNeedsOf({ ...flavor({}), directPorts: 1 });
    expect(n).toMatchObject({ kind: 'sriov', wants: { trait: SRIOV_TRAIT } });
    expect(offers(n!, caps({}, [SRIOV_TRAIT])).kind).toBe('yes');
    expect(offers(n!, caps({}))).toEqual({ kind: 'no', why: `no provider with trait ${SRIOV_TRAIT}` });
  });

  it('vGPU: the VGPU inventory; the first missing capability is named', () => {
    const needs = specialNeedsOf(flavor({ 'resources:VGPU': '1', 'hw:cpu_policy': 'dedicated' }, 2));
    expect(needs.map((n) => n.kind)).toEqual(['dedicated-cpu', 'vgpu']);
    expect(hostOffers(needs, caps({ PCPU: 2, VGPU: 1 }))).toEqual({ kind: 'yes' });
    expect(hostOffers(needs, caps({ PCPU: 2 }))).toEqual({ kind: 'no', why: '1 vGPU(s) (resources:VGPU): no VGPU inventory' });
    expect(hostOffers(needs, undefined).kind).toBe('unknown');
  });
});
