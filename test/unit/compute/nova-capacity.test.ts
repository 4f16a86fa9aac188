import { describe, expect, it } from 'vitest';
import { spareCapacity } from '../../../src/compute/nova/capacity.js';
import type { HostCapacity, Hypervisor, PlacementApi } from '../../../src/openstack/types.js';

const hv2_87: Hypervisor = {
  id: '0d3a3c1e-5b43-4e0a-9c1b-7a8d2f1e6b40', hostname: 'spare1.example.org', serviceHost: 'spare1', state: 'up', status: 'disabled',
  vcpus: 16, vcpusUsed: 4, memoryMb: 32768, memoryMbUsed: 8192,
};
const hv2_93: Hypervisor = { id: hv2_87.id, hostname: hv2_87.hostname, serviceHost: 'spare1', state: 'up', status: 'disabled' };

/** A Placement that answers from a script and records which hypervisors it was asked about. */
function placementAnswering(answer: () => Promise<HostCapacity | null>): PlacementApi & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    hostCapacity: async (hv) => {
      asked.push(hv.hostname);
      return answer();
    },
  };
}

describe('spareCapacity', () => {
  it('asks Placement first: it knows the allocation ratios the scheduler decides with', async () => {
    const placement = placementAnswering(async () => ({ vcpusFree: 60, ramMbFree: 40000, providerUuid: hv2_87.id }));
    expect(await spareCapacity(hv2_87, undefined, placement)).toEqual({ freeVcpus: 60, freeRamMb: 40000, source: 'placement' });
    expect(await spareCapacity(hv2_93, undefined, placement)).toEqual({ freeVcpus: 60, freeRamMb: 40000, source: 'placement' });
    expect(placement.asked).toEqual(['spare1.example.org', 'spare1.example.org']);
  });

  it('falls back to the hypervisor\'s figures when Placement has none, fails, or is not given, and says why', async () => {
    const none = await spareCapacity(hv2_87, undefined, placementAnswering(async () => null));
    expect(none).toEqual({ freeVcpus: 12, freeRamMb: 24576, source: 'nova', why: expect.stringMatching(/Placement gave no figures .*no resource provider spare1\.example\.org/) });
    const broken = await spareCapacity(hv2_87, undefined, placementAnswering(async () => { throw new Error('Placement GET /resource_providers answered 503'); }));
    expect(broken).toEqual({ freeVcpus: 12, freeRamMb: 24576, source: 'nova', why: 'Placement could not be read: Placement GET /resource_providers answered 503' });
    expect(await spareCapacity(hv2_87, undefined, undefined)).toEqual({ freeVcpus: 12, freeRamMb: 24576, source: 'nova', why: 'Placement was not asked' });
  });

  it('unknown, with the reason, when neither Placement nor Nova has figures', async () => {
    const none = await spareCapacity(hv2_93, undefined, placementAnswering(async () => null));
    expect(none).toEqual({ source: 'unknown', why: expect.stringMatching(/Placement gave no figures .*no resource provider spare1\.example\.org.*, and Nova reports no usage$/) });
    const broken = await spareCapacity(hv2_93, undefined, placementAnswering(async () => { throw new Error('Placement GET /resource_providers answered 503'); }));
    expect(broken).toEqual({ source: 'unknown', why: 'Placement could not be read: Placement GET /resource_providers answered 503, and Nova reports no usage' });
    expect((await spareCapacity(hv2_93, undefined, undefined)).why).toMatch(/Placement was not asked, and Nova reports no usage/);
    expect(await spareCapacity(undefined, undefined, placementAnswering(async () => null))).toEqual({ source: 'unknown', why: 'Nova lists no hypervisor for it' });
  });

  it('a caller that gave up gets the error, not a guess', async () => {
    const ac = new AbortController();
    ac.abort();
    const placement = placementAnswering(async () => { throw new Error('aborted'); });
    await expect(spareCapacity(hv2_93, undefined, placement, { signal: ac.signal })).rejects.toThrow('aborted');
  });
});
