// The Ceph storage fence on a real one-node Ceph: a host (network namespace) with N servers whose disks one
// librbd process holds open and writes; its BMC does not answer. Measures the time from "level 1 failed" to
// "storage fence confirmed", what the storage fence costs for N servers, and, for comparison, reading the same
// watchers with one `rbd status` process per image. The same fence for a host whose N servers boot from Cinder
// RBD volumes, their images named by the connection_info read from the simulated Nova and Cinder (two API calls
// per server), beside the image-backed figure of the same run.
// Usage: npx tsx bench/storage-fence.ts [--servers 50] [--runs 3]
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { Secret } from '../src/config/secret.js';
import { createStorageFence } from '../src/fencing/fence-plan.js';
import { storageDevice } from '../src/fencing/devices/ceph.js';
import { fenceLevels } from '../src/fencing/fence-levels.js';
import { powerDevice } from '../src/fencing/power-device.js';
import { IpmiDriver } from '../src/fencing/ipmi-driver.js';
import { loadConfig } from '../src/config/load.js';
import { createOpenStack } from '../src/openstack/index.js';
import type { Server, VolumeApi } from '../src/openstack/types.js';
import { silentLogger } from '../src/shared/logger.js';
import { runSim, type RunningSim } from '../src/sim/index.js';
import { CephCluster, COMPUTE_CAPS, CONTROLLER_CAPS, RbdWriter } from '../test/helpers/ceph.js';
import { NetLab } from '../test/helpers/netns.js';
import { freeUdpPort } from '../test/helpers/ports.js';
import { ProcessGroup } from '../test/helpers/processes.js';

const exec = promisify(execFile);
function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : dflt;
}
const n = Number(arg('servers', '50'));
const runs = Number(arg('runs', '3'));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const procs = new ProcessGroup();
const lab = await NetLab.create();
let ceph: CephCluster | undefined;
let sim: RunningSim | undefined;
try {
  const h1 = await lab.addHost('h1');
  ceph = await CephCluster.start({ bindIp: lab.gateway, pools: ['vms', 'volumes'] });
  const cmpha = await ceph.createUser('cmpha', CONTROLLER_CAPS);
  const compute = await ceph.createUser('compute', COMPUTE_CAPS);
  const servers: Server[] = Array.from({ length: n }, (_, i) => ({
    id: randomUUID(), name: `vm${i}`, status: 'ACTIVE', taskState: null, vmState: 'active', host: 'compute1',
    addresses: [], metadata: {}, userId: 'u', projectId: 'p', flavor: {}, imageId: randomUUID(),
  }));
  const images = servers.map((s) => `vms/${s.id}_disk`);
  await ceph.createImages('vms', servers.map((s) => `${s.id}_disk`));
  const fence = createStorageFence({
    monHost: ceph.monHost, user: cmpha.id, keyringFile: cmpha.keyringPath, imagesRbdPool: 'vms', blocklistExpireS: 600,
    confirmTimeoutMs: 30_000, commandTimeoutMs: 30_000, writerProofTimeoutMs: 10_000, python: '/usr/bin/python3',
  }, { pollIntervalMs: 200 });
  // A BMC nobody answers at: ipmitool gives up after its one retry.
  const bmc = new IpmiDriver({
    name: 'compute1', address: '127.0.0.1', port: await freeUdpPort(), username: 'admin', password: new Secret('unused'),
    ipmi: { interface: 'lanplus', cipherSuite: 3, timeoutS: 1, retries: 1 },
  });
  const conf = ceph.writeClientConf('h1', compute);

  /** Fences the host `runs` times with its BMC silent; the gap from "level 1 failed" and the storage level's own cost. */
  const measure = async (hostServers: readonly Server[], hostImages: readonly string[], volumes?: VolumeApi) => {
    const gap: number[] = [];
    const cost: number[] = [];
    for (let run = 0; run < runs; run++) {
      const vm = await RbdWriter.start(procs, { ns: h1.ns, conf, user: compute, image: hostImages.join(','), intervalMs: 500 });
      const before = (await fence.client.watchers(hostImages)).filter((w) => 'watchers' in w && w.watchers.length === 1).length;
      if (before !== hostImages.length) throw new Error(`expected ${hostImages.length} watched images, saw ${before}`);
      vm.pause();
      let level1FailedAt = 0;
      const r = await fenceLevels({
        host: 'compute1',
        levels: [[powerDevice(bmc)], [storageDevice(fence, [h1.ips[0]!], async () => hostServers, volumes)]],
      }, {
        timeoutMs: 10_000, pollIntervalMs: 200, attempts: 1,
        onEvent: (e) => { if (e.kind === 'error' && e.detail.startsWith('level 1:')) level1FailedAt = e.at; },
      });
      if (!r.ok || r.level !== 2) throw new Error(`storage fence did not confirm: ${JSON.stringify(r)}`);
      const storage = r.attempts.find((a) => a.kind === 'ceph')!;
      if (!storage.detail.includes(`${hostImages.length} image(s)`)) throw new Error(`storage fence checked other images: ${storage.detail}`);
      gap.push(storage.startedAt + storage.durationMs - level1FailedAt);
      cost.push(storage.durationMs);
      await vm.stop();
      await fence.unfence([h1.ips[0]!]);
    }
    return { gap, cost };
  };
  const { gap, cost } = await measure(servers, images);

  // The same host with volume-backed servers: Nova and Cinder from the simulator, the images on the real Ceph.
  sim = await runSim({ hosts: 1, instancesPerHost: 0, spares: 0, cephMonIps: [lab.gateway] });
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${sim.controlUrl}/sim/servers`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: 'compute1', name: `bfv${i}`, volumes: [{ boot: true }] }),
    });
    if (res.status !== 201) throw new Error(`add server: ${res.status} ${await res.text()}`);
  }
  const os = createOpenStack((await loadConfig({ path: sim.configPath, env: {} })).cloud, { logger: silentLogger });
  const bfv = await os.nova.listServersOnHost('compute1');
  const volumeNames = bfv.flatMap((s) => sim!.world.servers.get(s.id)!.volumes!.map((v) => `volume-${v.nameId}`));
  await ceph.createImages('volumes', volumeNames);
  const vol = await measure(bfv, volumeNames.map((v) => `volumes/${v}`), os.volumes);

  // The same watcher reads as one CLI process per image (what one `rbd status` per disk would cost).
  const t0 = Date.now();
  for (const image of images) {
    await exec('rbd', ['--id', cmpha.id, '--keyring', cmpha.keyringPath, '-m', ceph.monHost, 'status', image, '--format', 'json']);
  }
  const perImageCli = Date.now() - t0;
  const t1 = Date.now();
  await fence.client.watchers(images);
  const oneConnection = Date.now() - t1;

  console.log(`| what | figure |\n| --- | --- |`);
  console.log(`| test Ceph start (mon + memstore OSD + pool, ready for I/O) | ${(ceph.startupMs / 1000).toFixed(1)} s |`);
  console.log(`| host | ${n} servers, ${n} images held open by one librbd writer in a namespace; BMC not answering |`);
  console.log(`| "level 1 failed" → "storage fence confirmed", median of ${runs} | ${median(gap)} ms (runs: ${gap.join(', ')}) |`);
  console.log(`| storage fence cost for ${n} servers (list pool, blocklist add, osd dump, ${n} watcher reads), median | ${median(cost)} ms |`);
  console.log(`| the same for ${n} volume-backed servers (+ ${n} Nova os-volume_attachments and ${n} Cinder attachment reads, 8 at a time, over the simulator; 2 pools listed), median | ${median(vol.cost)} ms (runs: ${vol.cost.join(', ')}; ${(median(vol.cost) / Math.max(1, median(cost))).toFixed(2)}× the image-backed host) |`);
  console.log(`| "level 1 failed" → "storage fence confirmed", volume-backed, median | ${median(vol.gap)} ms |`);
  console.log(`| ${n} watcher reads: one \`rbd status\` process per image | ${perImageCli} ms |`);
  console.log(`| ${n} watcher reads: one librados connection (the fence's way) | ${oneConnection} ms (${(perImageCli / Math.max(1, oneConnection)).toFixed(1)}× faster) |`);
} finally {
  await procs.stopAll();
  await sim?.close();
  await ceph?.stop();
  await lab.destroy();
}
