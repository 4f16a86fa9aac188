import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CephCluster, COMPUTE_CAPS, RbdWriter, type CephUser } from '../../helpers/ceph.js';
import { NetLab, type LabHost } from '../../helpers/netns.js';
import { ProcessGroup } from '../../helpers/processes.js';

// The test cluster itself: a namespace "host" reaches the mon on the lab bridge, holds an image open and writes.
describe('one-node test Ceph', () => {
  let lab: NetLab;
  let ceph: CephCluster;
  let h1: LabHost;
  let compute: CephUser;
  const procs = new ProcessGroup();

  beforeAll(async () => {
    lab = await NetLab.create();
    h1 = await lab.addHost('h1');
    ceph = await CephCluster.start({ bindIp: lab.gateway });
    process.stderr.write(`test Ceph started in ${ceph.startupMs} ms\n`);
    compute = await ceph.createUser('compute', COMPUTE_CAPS);
  }, 120_000);
  afterAll(async () => {
    await procs.stopAll();
    await ceph?.stop();
    await lab?.destroy();
  }, 60_000);

  it('serves a writer in a namespace, whose watch carries the namespace address', async () => {
    await ceph.createImage('vms/disk1');
    const conf = ceph.writeClientConf('h1', compute);
    const vm = await RbdWriter.start(procs, { ns: h1.ns, conf, user: compute, image: 'vms/disk1' });
    expect(vm.address).toMatch(new RegExp(`^${h1.ips[0]!.replace(/\./g, '\\.')}:0/\\d+$`));
    expect(await ceph.watchers('vms/disk1')).toEqual([vm.address]);
    await expect.poll(() => vm.writes.filter((w) => w.ok).length, { timeout: 10_000 }).toBeGreaterThan(2);
    await vm.stop();
  }, 60_000);
});
