import { describe, expect, it } from 'vitest';
import { planFleet } from '../../../src/evacuator/host-plan.js';
import { PLAN_COLUMNS } from '../../../src/cli/commands/check.js';
import { renderList } from '../../../src/cli/output.js';
import { specialTargetsChecks } from '../../../src/doctor/check-special-targets.js';
import { createOpenStack } from '../../../src/openstack/index.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { computeOf } from '../../helpers/compute.js';
import { pipelineSuite, waitClosed, type PipelineWorld } from './world.js';

// Servers that need a special target, judged before any failure against the simulator, whose Placement serves the
// inventories (PCPU, VGPU, a PCI alias's class) and traits a host reports, and whose hypervisors report their NUMA
// cells: `cmpha check --plan` names the spare that can host each and why the others cannot; doctor fails a protected
// host's server that no spare can host, naming the server and what is missing.

const suite = pipelineSuite();

async function post(w: PipelineWorld, path: string, body: unknown, status = 201): Promise<void> {
  const r = await fetch(`${w.sim.controlUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (r.status !== status) throw new Error(`${path}: ${r.status} ${await r.text()}`);
}

describe('servers that need a special target', () => {
  it('the plan and doctor say which spare can host dedicated-CPU, NUMA, PCI and vGPU servers, and which cannot', async () => {
    const w = await suite.world({
      hosts: 1, instancesPerHost: 0, spares: 2,
      evacuation: { pciAliasResources: new Map([['gpu-a', 'CUSTOM_PCI_10DE_1EB8']]), spareCount: 2 },
    });
    await post(w, '/sim/hosts/spare1/capabilities', { inventory: { PCPU: 8, VGPU: 2, CUSTOM_PCI_10DE_1EB8: 1 }, numaNodes: 2 }, 200);
    await post(w, '/sim/servers', { host: 'compute1', name: 'pinned', flavor: 'm1.medium', extraSpecs: { 'hw:cpu_policy': 'dedicated' } });
    await post(w, '/sim/servers', { host: 'compute1', name: 'numa', flavor: 'm1.medium', extraSpecs: { 'hw:numa_nodes': '2' } });
    await post(w, '/sim/servers', { host: 'compute1', name: 'pci', flavor: 'm1.small', extraSpecs: { 'pci_passthrough:alias': 'gpu-a:1' } });
    await post(w, '/sim/servers', { host: 'compute1', name: 'vgpu', flavor: 'm1.small', extraSpecs: { 'resources:VGPU': '1' } });
    await post(w, '/sim/servers', { host: 'compute1', name: 'vgpu-big', flavor: 'm1.small', extraSpecs: { 'resources:VGPU': '4' } });
    await post(w, '/sim/servers', { host: 'compute1', name: 'plain', flavor: 'm1.tiny' });
    const { placement } = createOpenStack(w.config.cloud, { logger: silentLogger });
    const compute = computeOf(w.nova, { config: w.config, placement });

    const rows = await planFleet(compute, w.config.evacuation);
    const by = Object.fromEntries(rows.map((r) => [r.name, r]));
    expect(by.pinned).toMatchObject({ target: 'spare1', needs: ['2 dedicated CPU(s) (hw:cpu_policy=dedicated)'], spares: { capable: ['spare1'], not: [{ host: 'spare2', why: '2 dedicated CPU(s) (hw:cpu_policy=dedicated): no PCPU inventory' }] } });
    expect(by.numa).toMatchObject({ target: 'spare1', spares: { capable: ['spare1'], not: [{ host: 'spare2', why: '2 NUMA node(s) (hw:numa_nodes): 1 NUMA node(s), needs 2' }] } });
    expect(by.pci).toMatchObject({ target: 'spare1', spares: { capable: ['spare1'], not: [{ host: 'spare2', why: '1 PCI device(s) of alias gpu-a (pci_passthrough:alias): no CUSTOM_PCI_10DE_1EB8 inventory' }] } });
    expect(by.vgpu).toMatchObject({ target: 'spare1', spares: { capable: ['spare1'], not: [{ host: 'spare2', why: '1 vGPU(s) (resources:VGPU): no VGPU inventory' }] } });
    expect(by['vgpu-big']).toMatchObject({ target: 'scheduler', spares: { capable: [], not: [{ host: 'spare1', why: '4 vGPU(s) (resources:VGPU): VGPU 2 free, needs 4' }, { host: 'spare2' }] } });
    expect(by.plain).toMatchObject({ needs: [] });
    expect(by.plain!.spares).toBeUndefined();
    const table = renderList(rows, PLAN_COLUMNS, { format: 'table', columns: [] } as never);
    expect(table).toMatch(/vgpu-big .*4 vGPU\(s\) \(resources:VGPU\); NO SPARE CAN HOST IT \(not spare1: 4 vGPU\(s\) \(resources:VGPU\): VGPU 2 free, needs 4/);

    const listed = new Map([['compute1', await compute.guestsOn('compute1')]]);
    const checks = await specialTargetsChecks(compute, ['compute1'], ['spare1', 'spare2'], listed, w.config.evacuation);
    const failing = checks.filter((c) => c.status === 'fail');
    expect(failing).toHaveLength(1);
    expect(failing[0]!.detail).toMatch(/^compute1: server vgpu-big \(.+\) needs 4 vGPU\(s\) \(resources:VGPU\): no spare can host it \(spare1: 4 vGPU\(s\) \(resources:VGPU\): VGPU 2 free, needs 4; spare2: 4 vGPU\(s\) \(resources:VGPU\): no VGPU inventory\)$/);
    expect(checks.find((c) => c.status === 'ok')?.detail).toMatch(/^4 server\(s\) needing a special target have a capable spare: /);
  });

  it('the recovery chooses a spare that offers what a server needs: a dedicated-CPU server goes to the spare with PCPU', async () => {
    const w = await suite.world({ hosts: 1, instancesPerHost: 0, spares: 2, evacuation: { spareCount: 2 } });
    await post(w, '/sim/hosts/spare2/capabilities', { inventory: { PCPU: 8 } }, 200);
    await post(w, '/sim/servers', { host: 'compute1', name: 'pinned', flavor: 'm1.medium', extraSpecs: { 'hw:cpu_policy': 'dedicated' } });
    await post(w, '/sim/servers', { host: 'compute1', name: 'plain', flavor: 'm1.tiny' });
    await w.control('compute1', 'power-off');
    await w.waitNovaDown('compute1');
    const { placement } = createOpenStack(w.config.cloud, { logger: silentLogger });
    const r = w.recovery(suite.redis, { placement });
    await r.startWorkers();
    await r.opener.open({ id: 'special-1', host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
    const inc = await waitClosed(r, 'special-1');
    expect(inc.status).toBe('resolved');
    expect(inc.instances.find((e) => e.name === 'pinned')).toMatchObject({ state: 'verified', target: 'spare2' });
    expect(inc.timeline.map((t) => t.message)).toContain('pinned needs 2 dedicated CPU(s) (hw:cpu_policy=dedicated): spare(s) that can host it: spare2 (not spare1: 2 dedicated CPU(s) (hw:cpu_policy=dedicated): no PCPU inventory)');
  });

  it('a PCI alias whose resource class is not configured is unknown: doctor warns, naming the server and the key to set', async () => {
    const w = await suite.world({ hosts: 1, instancesPerHost: 0, spares: 1 });
    await post(w, '/sim/servers', { host: 'compute1', name: 'pci', flavor: 'm1.small', extraSpecs: { 'pci_passthrough:alias': 'nic-x:2' } });
    const { placement } = createOpenStack(w.config.cloud, { logger: silentLogger });
    const compute = computeOf(w.nova, { config: w.config, placement });
    const listed = new Map([['compute1', await compute.guestsOn('compute1')]]);
    const checks = await specialTargetsChecks(compute, ['compute1'], ['spare1'], listed, w.config.evacuation);
    expect(checks).toEqual([{ name: 'special-targets', status: 'warn', detail: expect.stringMatching(/^compute1: server pci \(.+\) needs 2 PCI device\(s\) of alias nic-x \(pci_passthrough:alias\): no spare is known to host it \(spare1: .*map it in \[evacuation\] pci_alias_resources/) }]);
  });
});
