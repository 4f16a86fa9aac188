import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Guest } from '../../../src/compute/types.js';
import type { Config } from '../../../src/config/types.js';
import { fenceDriversFromConfig, fencePlansFromConfig } from '../../../src/app/fence-parts.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { CephCluster, COMPUTE_CAPS, CONTROLLER_CAPS, RbdWriter, type CephUser } from '../../helpers/ceph.js';
import { NetLab, type LabHost } from '../../helpers/netns.js';
import { ProcessGroup } from '../../helpers/processes.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { newRedis } from '../../unit/pipeline/harness.js';
import { cloudpodsWorld, isHostChange, isMigrate, type CloudpodsWorld } from '../pipeline/cloudpods-world.js';
import { waitClosed, waitFor } from '../pipeline/world.js';

// The storage fence on a Cloudpods region, as storage-fence-pipeline.test.ts runs it on OpenStack: the simulated
// region and its Redfish BMCs decide what cmpha does; a real one-node Ceph and network-namespace hosts running
// librbd writers decide whether it worked. A Cloudpods guest's RBD disk is the image named by the disk's id in the
// region's RBD pool (storage_rbd.go getDiskPath), here [ceph] images_rbd_pool. compute1's storage client is
// namespace h1, spare1's is h2: their addresses are the hosts' storage_ips in cmpha's config, as for any cloud.

const ESHUTDOWN = 108;

let redisServer: RedisServer;
let redis: Redis;
let lab: NetLab;
let ceph: CephCluster;
let h1: LabHost;
let h2: LabHost;
let cmpha: CephUser;
let compute: CephUser;
let w: CloudpodsWorld | undefined;
const procs = new ProcessGroup();

beforeAll(async () => {
  redisServer = await startRedis();
  redis = newRedis(redisServer.url);
  lab = await NetLab.create();
  h1 = await lab.addHost('h1');
  h2 = await lab.addHost('h2');
  ceph = await CephCluster.start({ bindIp: lab.gateway, pools: ['vms'] });
  cmpha = await ceph.createUser('cmpha', CONTROLLER_CAPS);
  compute = await ceph.createUser('compute', COMPUTE_CAPS);
}, 120_000);
afterEach(async () => {
  await procs.stopAll();
  await w?.close();
  w = undefined;
}, 60_000);
afterAll(async () => {
  await procs.stopAll();
  redis?.disconnect();
  await redisServer?.stop();
  await ceph?.stop();
  await lab?.destroy();
}, 60_000);

function withCeph(base: Config): Config {
  return {
    ...base,
    ceph: {
      monHost: ceph.monHost, user: cmpha.id, keyringFile: cmpha.keyringPath, imagesRbdPool: 'vms',
      blocklistExpireS: 600, confirmTimeoutMs: 10_000, commandTimeoutMs: 15_000, writerProofTimeoutMs: 30_000, python: '/usr/bin/python3',
    },
    hosts: {
      ...base.hosts,
      compute1: { ...base.hosts.compute1!, fenceLevels: [['redfish'], ['ceph']], storageIps: [h1.ips[0]!] },
      spare1: { ...base.hosts.spare1!, storageIps: [h2.ips[0]!] },
    },
  };
}

/** Each guest's disks as the region names them (`pool/<disk id>`), created on the real Ceph. */
async function disksOf(guests: readonly Guest[]): Promise<string[]> {
  const images = guests.flatMap((g) => (g.disks ?? []).map((d) => d.rbdImage!));
  expect(images).toHaveLength(guests.length);
  await ceph.createImages('vms', images);
  return images.map((i) => `vms/${i}`);
}

async function writers(images: readonly string[], on: LabHost): Promise<RbdWriter[]> {
  const conf = ceph.writeClientConf(on.label, compute);
  const out: RbdWriter[] = [];
  for (const image of images) out.push(await RbdWriter.start(procs, { ns: on.ns, conf, user: compute, image, intervalMs: 300 }));
  return out;
}

describe('storage fence on a Cloudpods region, with a real Ceph', () => {
  it('BMC dead, host hung: the power level fails, the Ceph level blocklists the host\'s storage address, then the region hears of it; guests migrated once, the old writers refused', async () => {
    w = await cloudpodsWorld({ hosts: 2, instancesPerHost: 2, spares: 1, redisUrl: redisServer.url });
    const config = withCeph(w.config);
    // Every guest of the host has its disk on the Ceph (a stopped one too: the storage fence alone must cover all).
    const all = await w.guestsOn('compute1');
    await disksOf(all);
    const guests = all.filter((g) => g.status === 'ACTIVE');
    expect(guests.length).toBeGreaterThan(0);
    const images = guests.map((g) => `vms/${g.disks![0]!.rbdImage!}`);
    const old = await writers(images, h1);
    for (const vm of old) expect(await ceph.watchers(vm.image)).toEqual([vm.address]);

    // The host hangs (its writers stop mid-flight, their watches still held) and its BMC answers nothing useful.
    for (const vm of old) vm.pause();
    await w.control('compute1', 'bmc', { mode: 'error' });
    await w.control('compute1', 'hang');
    await w.waitSilent('compute1');
    const driverFor = fenceDriversFromConfig(config, silentLogger);
    const r = w.recovery(redis, { config, fenceDriverFor: driverFor, fencePlanFor: fencePlansFromConfig(config, w.compute, driverFor) });
    await r.startWorkers();
    await r.opener.open({ id: 'cp1-storage', host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
    const inc = await waitClosed(r, 'cp1-storage', 90_000);

    expect(inc.status).toBe('resolved');
    expect(inc.fence).toMatchObject({ driver: 'ceph', level: 2, unfenced: false });
    const attempts = inc.timeline.filter((t) => t.step === 'fence' && /^level \d/.test(t.message)).map((t) => t.message);
    expect(attempts).toEqual([expect.stringMatching(/^level 1 redfish .*FAILED/), expect.stringMatching(/^level 2 ceph .*confirmed/)]);
    expect(attempts[1]).toContain(`${h1.ips[0]}:0/0`);
    expect(attempts[1]).toContain(`${all.length} image(s)`);
    expect(await ceph.blocklist()).toContain(`${h1.ips[0]}:0/0`);
    // Nothing changed in the region before the blocklist was confirmed.
    const hostId = (await w.compute.host('compute1')).id;
    const changes = (await w.calls()).filter((c) => (isHostChange(c) && c.path.includes(`/hosts/${hostId}/`)) || isMigrate(c));
    for (const c of changes) expect(Date.parse(c.time)).toBeGreaterThanOrEqual(inc.fence!.at);
    for (const g of guests) {
      expect(await w.migrateCalls(g.id)).toHaveLength(1);
      expect(await w.compute.guest(g.id)).toMatchObject({ host: 'spare1', status: 'ACTIVE' });
    }

    // The hung host resumes: every write it sends is refused.
    const resumedAt = Date.now();
    for (const vm of old) vm.resume();
    await waitFor('the resumed writers to try again', async () => old.every((vm) => vm.writesSince(resumedAt).length >= 3), 20_000);
    for (const vm of old) expect(vm.writesSince(resumedAt).every((x) => !x.ok && x.errno === ESHUTDOWN)).toBe(true);
    expect(w.notifier.events.map((e) => e.type)).toContain('incident-resolved');
  }, 180_000);
});
