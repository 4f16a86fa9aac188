import { readdirSync, readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Config, FenceDeviceName } from '../../../src/config/types.js';
import type { Incident } from '../../../src/incidents/types.js';
import type { Server } from '../../../src/openstack/types.js';
import { fenceDriversFromConfig, fencePlansFromConfig, singleWriterFromConfig, storageRenewalFromConfig } from '../../../src/app/fence-parts.js';
import { formatStorageCheck, runStorageCheck } from '../../../src/cli/commands/check.js';
import { storageUnfence } from '../../../src/cli/commands/host.js';
import { aliveOnStorage } from '../../../src/fencing/ceph/storage-survey.js';
import { createStorageFence } from '../../../src/fencing/fence-plan.js';
import { restoreHost } from '../../../src/pipeline/restore-host.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { sleep, systemClock } from '../../../src/shared/time.js';
import { CephCluster, COMPUTE_CAPS, CONTROLLER_CAPS, RbdWriter, type CephUser } from '../../helpers/ceph.js';
import { NetLab, type LabHost } from '../../helpers/netns.js';
import { ProcessGroup } from '../../helpers/processes.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { newRedis } from '../../unit/pipeline/harness.js';
import { callsAbout, isEvacuate, isServicePut, pipelineWorld, waitClosed, waitFor, type PipelineWorld } from '../pipeline/world.js';
import { computeOf } from '../../helpers/compute.js';

// The storage fence end to end: the simulated cloud (Nova, a Redfish BMC) decides what cmpha does; a real
// one-node Ceph and network-namespace hosts running librbd writers decide whether it worked.
// compute1's storage client is namespace h1; spare1's is h2.

const ESHUTDOWN = 108;

let redisServer: RedisServer;
let redis: Redis;
let lab: NetLab;
let ceph: CephCluster;
let h1: LabHost;
let h2: LabHost;
let cmpha: CephUser;
let compute: CephUser;
let readOnly: CephUser;
let w: PipelineWorld | undefined;
const procs = new ProcessGroup();

beforeAll(async () => {
  redisServer = await startRedis();
  redis = newRedis(redisServer.url);
  lab = await NetLab.create();
  h1 = await lab.addHost('h1');
  h2 = await lab.addHost('h2');
  ceph = await CephCluster.start({ bindIp: lab.gateway, pools: ['vms', 'volumes'] });
  cmpha = await ceph.createUser('cmpha', CONTROLLER_CAPS);
  compute = await ceph.createUser('compute', COMPUTE_CAPS);
  // Reads watchers but may not blocklist: a storage fence through it fails.
  readOnly = await ceph.createUser('viewer', { mon: 'allow r', osd: 'profile rbd-read-only pool=vms' });
}, 120_000);
afterEach(async () => {
  await procs.stopAll();
  await w?.close();
  w = undefined;
  // Each scenario starts with h1 and h2 free to write again.
  for (const entry of await ceph.blocklist()) {
    if (entry.startsWith('cidr:')) await ceph.ceph(['osd', 'blocklist', 'range', 'rm', entry.replace(/^cidr:/, '').replace(/:0\//, '/')]);
    else if (entry.startsWith(`${h1.ips[0]}:`) || entry.startsWith(`${h2.ips[0]}:`)) await ceph.ceph(['osd', 'blocklist', 'rm', entry]);
  }
}, 60_000);
afterAll(async () => {
  await procs.stopAll();
  redis?.disconnect();
  await redisServer?.stop();
  await ceph?.stop();
  await lab?.destroy();
}, 60_000);

function withCeph(base: Config, user: CephUser, levels: FenceDeviceName[][]): Config {
  return {
    ...base,
    ceph: {
      monHost: ceph.monHost, user: user.id, keyringFile: user.keyringPath, imagesRbdPool: 'vms',
      blocklistExpireS: 600, confirmTimeoutMs: 10_000, commandTimeoutMs: 15_000, writerProofTimeoutMs: 30_000, python: '/usr/bin/python3',
    },
    hosts: {
      ...base.hosts,
      compute1: { ...base.hosts.compute1!, fenceLevels: levels, storageIps: [h1.ips[0]!] },
      spare1: { ...base.hosts.spare1!, storageIps: [h2.ips[0]!] },
    },
  };
}

/** Root disks on Ceph for every image-backed server of the host (running or not), as Nova's rbd image backend names them. */
async function disksOf(host: string): Promise<void> {
  const existing = new Set((await ceph.rbd(['ls', '-p', 'vms'])).split('\n'));
  const missing = (await w!.serversOn(host)).filter((s) => s.imageId !== null).map((s) => `${s.id}_disk`).filter((n) => !existing.has(n));
  if (missing.length > 0) await ceph.createImages('vms', missing);
}

/** A writer holding each of these images (`pool/name`) open from `on`, as a server's qemu would. */
async function imageWriters(images: readonly string[], on: LabHost): Promise<RbdWriter[]> {
  const conf = ceph.writeClientConf(on.label, compute);
  const out: RbdWriter[] = [];
  for (const image of images) out.push(await RbdWriter.start(procs, { ns: on.ns, conf, user: compute, image, intervalMs: 300 }));
  return out;
}

interface SimVolumeState { readonly id: string; readonly nameId: string; readonly driver: string }

/** A server on compute1 with these Cinder volumes (the simulator's control API), and its volume images created on the real Ceph. */
async function serverWithVolumes(world: PipelineWorld, volumes: readonly Record<string, unknown>[]): Promise<{ server: Server; volumes: readonly SimVolumeState[]; images: string[] }> {
  const r = await fetch(`${world.sim.controlUrl}/sim/servers`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: 'compute1', name: 'vm-volumes', volumes }),
  });
  if (r.status !== 201) throw new Error(`add server: ${r.status} ${await r.text()}`);
  const id = ((await r.json()) as { server: { id: string } }).server.id;
  const vols = world.sim.world.servers.get(id)!.volumes as readonly SimVolumeState[];
  // Cinder's RBD driver names the image by _name_id, which the simulator's connection_info carries.
  const names = vols.filter((v) => v.driver === 'rbd').map((v) => `volume-${v.nameId}`);
  // Each world draws the same ids from its seed: an earlier scenario may have made the image already.
  const existing = new Set((await ceph.rbd(['ls', '-p', 'volumes'])).split('\n'));
  const missing = names.filter((n) => !existing.has(n));
  if (missing.length > 0) await ceph.createImages('volumes', missing);
  return { server: (await world.nova.getServer(id))!, volumes: vols, images: names.map((n) => `volumes/${n}`) };
}

/** A writer holding each server's disk open from `on`, as the server's qemu would. */
async function writers(servers: readonly Server[], on: LabHost): Promise<RbdWriter[]> {
  const conf = ceph.writeClientConf(on.label, compute);
  const out: RbdWriter[] = [];
  for (const s of servers) out.push(await RbdWriter.start(procs, { ns: on.ns, conf, user: compute, image: `vms/${s.id}_disk`, intervalMs: 300 }));
  return out;
}

/**
 * Runs compute1's incident with the storage fence and the single-writer proof from `config`. `onMoved` runs
 * once Nova places every one of `servers` on spare1: where the test starts their new "qemu" writers.
 */
async function startIncident(world: PipelineWorld, config: Config, id: string, servers: readonly Server[] = [], onMoved?: () => Promise<void>, alsoStop: readonly string[] = []): Promise<Incident> {
  const driverFor = fenceDriversFromConfig(config, silentLogger);
  const r = world.recovery(redis, {
    config, fenceDriverFor: driverFor, fencePlanFor: fencePlansFromConfig(config, computeOf(world.nova), driverFor, undefined, world.volumes),
    singleWriter: { ...singleWriterFromConfig(config, world.volumes)!, pollIntervalMs: 200 },
  });
  await r.startWorkers();
  await r.opener.open({ id, host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
  const moved = onMoved ? (async () => {
    const want = new Set(servers.map((s) => s.id));
    await waitFor('the servers to be on spare1', async () => (await world.serversOn('spare1')).filter((s) => want.has(s.id)).length === want.size, 60_000, 200);
    await onMoved();
  })() : Promise.resolve();
  const [inc] = await Promise.all([waitClosed(r, id, 90_000, alsoStop), moved]);
  return inc;
}

describe('storage fence with a real Ceph', () => {
  it('BMC unreachable, host hung: level 1 fails, the Ceph level fences, servers move, the old writer is refused, one watcher per disk', async () => {
    w = await pipelineWorld({ hosts: 2, instancesPerHost: 2, spares: 1, redisUrl: redisServer.url });
    const config = withCeph(w.config, cmpha, [['redfish'], ['ceph']]);
    const servers = (await w.serversOn('compute1')).filter((s) => ['ACTIVE', 'ERROR'].includes(s.status));
    await disksOf('compute1');
    const old = await writers(servers, h1);
    for (const vm of old) expect(await ceph.watchers(vm.image)).toEqual([vm.address]);

    // The host hangs (writers stopped mid-flight, watches still alive) and its BMC answers nothing useful.
    for (const vm of old) vm.pause();
    await w.control('compute1', 'bmc', { mode: 'error' });
    await w.control('compute1', 'hang');
    await w.waitNovaDown('compute1');
    let fresh: RbdWriter[] = [];
    const inc = await startIncident(w, config, 'c1-storage', servers, async () => { fresh = await writers(servers, h2); });

    expect(inc.status).toBe('resolved');
    expect(inc.fence).toMatchObject({ driver: 'ceph', level: 2, unfenced: false });
    const attempts = inc.timeline.filter((t) => t.step === 'fence' && /^level \d/.test(t.message));
    expect(attempts.map((t) => t.message)).toEqual([
      expect.stringMatching(/^level 1 redfish .*FAILED/),
      expect.stringMatching(/^level 2 ceph .*confirmed/),
    ]);
    expect(attempts[1]!.message).toContain(`${h1.ips[0]}:0/0`);
    expect(await ceph.blocklist()).toContain(`${h1.ips[0]}:0/0`);
    expect((await w.serversOn('spare1')).map((s) => s.id).sort()).toEqual(servers.map((s) => s.id).sort());

    // The hung host resumes: every write it sends is refused, nothing more lands.
    const resumedAt = Date.now();
    for (const vm of old) vm.resume();
    await waitFor('the resumed writers to try again', async () => old.every((vm) => vm.writesSince(resumedAt).length >= 3), 20_000);
    for (const vm of old) {
      const tries = vm.writesSince(resumedAt);
      expect(tries.every((x) => !x.ok && x.errno === ESHUTDOWN)).toBe(true);
    }
    expect(inc.timeline.filter((t) => t.step === 'writers').map((t) => t.message)).toEqual([
      expect.stringMatching(new RegExp(`^single-writer proof: ${servers.length} of ${servers.length} server\\(s\\) on Ceph have exactly one writer per disk, on their new host; 0 double writer\\(s\\); watchers: `)),
    ]);
    // The line names the watcher address it saw on each disk.
    const proof = inc.timeline.find((t) => t.step === 'writers')!.message;
    for (const vm of fresh) expect(proof).toContain(`${vm.image} ${vm.address!}`);
    for (const vm of fresh) {
      expect(await ceph.watchers(vm.image)).toEqual([vm.address]);
      expect(vm.address!.startsWith(`${h2.ips[0]}:`)).toBe(true);
      expect(vm.writes.some((x) => x.ok)).toBe(true);
    }
  }, 180_000);

  it('every level fails: no force-down, no evacuation, a critical page, the incident waits for a fence', async () => {
    w = await pipelineWorld({ hosts: 2, instancesPerHost: 2, spares: 1, redisUrl: redisServer.url });
    const config = withCeph(w.config, readOnly, [['redfish'], ['ceph']]);
    const servers = (await w.serversOn('compute1')).filter((s) => ['ACTIVE', 'ERROR'].includes(s.status));
    await disksOf('compute1');
    const old = await writers(servers, h1);
    await w.control('compute1', 'bmc', { mode: 'error' });
    await w.control('compute1', 'hang');
    await w.waitNovaDown('compute1');
    const inc = await startIncident(w, config, 'c1-nofence', [], undefined, ['awaiting_fence']);

    expect(inc.status).toBe('awaiting_fence');
    expect(inc.error).toMatchObject({ code: 'fence_levels_failed' });
    expect(inc.error!.message).toMatch(/level 1 redfish .*level 2 ceph ceph_denied/s);
    expect(inc.error!.message).toMatch(/nothing was forced down or evacuated/);
    const svcId = (await w.nova.listComputeServices({ host: 'compute1' }))[0]!.id;
    const calls = callsAbout(await w.calls(), 'compute1', servers.map((s) => s.id), svcId);
    expect(calls.filter((c) => isServicePut(c) || isEvacuate(c))).toEqual([]);
    expect(w.notifier.events.at(-1)).toMatchObject({ type: 'fence-failed', severity: 'critical', incidentId: 'c1-nofence' });
    // Nothing was blocklisted: the old writers still hold their watches and write.
    expect(await ceph.blocklist()).not.toContain(`${h1.ips[0]}:0/0`);
    for (const vm of old) expect(await ceph.watchers(vm.image)).toEqual([vm.address]);
  }, 180_000);

  it('a second writer on a recovered server\'s disk: double-writer, paged, the incident is not resolved', async () => {
    w = await pipelineWorld({ hosts: 2, instancesPerHost: 2, spares: 1, redisUrl: redisServer.url });
    const config = withCeph(w.config, cmpha, [['redfish'], ['ceph']]);
    const servers = (await w.serversOn('compute1')).filter((s) => ['ACTIVE', 'ERROR'].includes(s.status));
    await disksOf('compute1');
    await w.control('compute1', 'hang');
    await w.waitNovaDown('compute1');
    const h3 = await lab.addHost('h3');
    let intruder: RbdWriter | undefined;
    const inc = await startIncident(w, config, 'c1-double', servers, async () => {
      // A host Nova does not place the server on holds its disk (a stale or duplicate qemu), then the real one opens it.
      [intruder] = await writers([servers[0]!], h3);
      await writers(servers, h2);
    });
    expect(inc.fence).toMatchObject({ driver: 'redfish', level: 1, storage: { ok: true } });
    expect(inc.status).not.toBe('resolved');
    const bad = inc.instances.find((e) => e.id === servers[0]!.id)!;
    expect(bad).toMatchObject({ state: 'failed', error: expect.stringMatching(/^double-writer: .*not on spare1/) });
    expect(bad.error).toContain(intruder!.address);
    expect(inc.timeline.some((t) => t.level === 'critical' && t.message.startsWith('DOUBLE WRITER:'))).toBe(true);
    expect(w.notifier.events.map((e) => e.type)).toContain('double-writer');
    expect(w.notifier.events.find((e) => e.type === 'double-writer')).toMatchObject({ severity: 'critical', incidentId: 'c1-double' });
  }, 180_000);

  it('keeps the host blocklisted with a fresh expiry while the incident lasts, never unlisted in between', async () => {
    w = await pipelineWorld({ hosts: 2, instancesPerHost: 2, spares: 1, redisUrl: redisServer.url, evacuateSeconds: 8 });
    const config = withCeph(w.config, cmpha, [['redfish'], ['ceph']]);
    await disksOf('compute1');
    await w.control('compute1', 'bmc', { mode: 'error' });
    await w.control('compute1', 'hang');
    await w.waitNovaDown('compute1');
    const driverFor = fenceDriversFromConfig(config, silentLogger);
    const r = w.recovery(redis, {
      config, fenceDriverFor: driverFor, fencePlanFor: fencePlansFromConfig(config, computeOf(w.nova), driverFor),
      ...storageRenewalFromConfig(config), storageRenewEveryMs: 1000,
    });
    await r.startWorkers();
    await r.opener.open({ id: 'c1-renew', host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
    const forms = [`${h1.ips[0]}:0/0`, `cidr:${h1.ips[0]}:0/32`];
    const expiry = async () => Math.max(0, ...(await Promise.all(forms.map((f) => ceph.blocklistUntil(f)))).map((u) => (u ? Date.parse(u) : 0)));
    await waitFor('the storage fence', async () => (await expiry()) > 0, 60_000, 200);
    const first = await expiry();
    let gaps = 0;
    await waitFor('the expiry to move on', async () => {
      const now = await expiry();
      if (now === 0) gaps++;
      return now > first + 500;
    }, 20_000, 300);
    expect(gaps).toBe(0);
    // Still during the incident: the evacuations take 8 s each.
    expect((await r.incidents.get('c1-renew'))!.status).toMatch(/fenced|evacuating|verifying/);
    await waitClosed(r, 'c1-renew', 90_000);
  }, 180_000);

  it('host restore removes the blocklist only when asked, and only after a power-cycle', async () => {
    w = await pipelineWorld({ hosts: 2, instancesPerHost: 1, spares: 1, redisUrl: redisServer.url });
    const config = withCeph(w.config, cmpha, [['redfish'], ['ceph']]);
    const fence = createStorageFence(config.ceph!, config.fencing);
    expect(await fence.fence([h1.ips[0]!], [])).toMatchObject({ ok: true });
    const entry = `${h1.ips[0]}:0/0`;
    const lines: string[] = [];
    const restore = (extra: { unfenceStorage?: boolean; powerCycled?: boolean }) => restoreHost(
      { compute: computeOf(w!.nova), fenceDriver: null, clock: systemClock, sleep, progress: (l) => lines.push(l), storage: storageUnfence(config, 'compute1')! },
      { host: 'compute1', powerOn: false, asSpare: false, spareReasonPrefix: 'down_prepare', waitTimeoutMs: 20_000, pollIntervalMs: 200, ...extra },
    );

    await restore({});
    expect(await ceph.blocklist()).toContain(entry);
    expect(lines.some((l) => l.includes(`its storage stays blocklisted (${entry})`))).toBe(true);

    await expect(restore({ unfenceStorage: true })).rejects.toMatchObject({ code: 'restore_not_power_cycled' });
    expect(await ceph.blocklist()).toContain(entry);

    await restore({ unfenceStorage: true, powerCycled: true });
    expect(await ceph.blocklist()).not.toContain(entry);
    expect(lines.some((l) => l.includes(`storage blocklist removed (${entry})`))).toBe(true);
    // A new client on the host works again.
    await disksOf('compute1');
    const [vm] = await writers((await w.serversOn('compute1')).slice(0, 1), h1);
    await expect.poll(() => vm!.writes.some((x) => x.ok), { timeout: 10_000 }).toBe(true);
  }, 180_000);

  it('check --storage: one writer per disk on the host Nova names, a foreign watcher is a double writer, and live clients are storage evidence', async () => {
    w = await pipelineWorld({ hosts: 2, instancesPerHost: 2, spares: 1, redisUrl: redisServer.url });
    const config = withCeph(w.config, cmpha, [['redfish'], ['ceph']]);
    const servers = await w.serversOn('compute1');
    await disksOf('compute1');
    const vms = await writers(servers, h1);
    let survey = await runStorageCheck(config, computeOf(w.nova));
    const mine = survey.servers.filter((f) => f.host === 'compute1');
    expect(mine.map((f) => f.verdict)).toEqual(servers.map(() => 'single'));
    const c1 = survey.hosts.find((h) => h.host === 'compute1')!;
    expect(c1.watches).toBe(servers.length);
    // Management silence that began 31 s before this look, with watches still held: alive on storage.
    expect(aliveOnStorage(c1, c1.at - 31_000)).toBe(true);
    expect(aliveOnStorage(c1, c1.at - 5_000)).toBe(false);

    const [intruder] = await writers([servers[0]!], h2);
    survey = await runStorageCheck(config, computeOf(w.nova));
    const bad = survey.servers.find((f) => f.serverId === servers[0]!.id)!;
    expect(bad.verdict).toBe('double-writer');
    expect(bad.detail).toContain(intruder!.address);
    expect(formatStorageCheck(survey)).toMatch(/^DOUBLE WRITER {2}vm-\d+/m);
    await intruder!.stop();

    // A hung host's watches lapse by themselves (25-30 s): then there is no storage evidence of life.
    for (const vm of vms) vm.pause();
    await waitFor('the hung clients\' watches to lapse', async () => (await runStorageCheck(config, computeOf(w!.nova))).hosts.find((h) => h.host === 'compute1')!.watches === 0, 60_000, 2000);
  }, 180_000);

  it('never puts the cephx key or the BMC password in argv, the incident or its timeline', async () => {
    w = await pipelineWorld({ hosts: 2, instancesPerHost: 1, spares: 1, redisUrl: redisServer.url });
    const config = withCeph(w.config, cmpha, [['redfish', 'ceph'], ['ceph']]);
    const servers = (await w.serversOn('compute1')).filter((s) => ['ACTIVE', 'ERROR'].includes(s.status));
    await disksOf('compute1');
    await writers(servers, h1);
    await w.control('compute1', 'hang');
    await w.waitNovaDown('compute1');
    // Every process cmpha starts while it fences, as `ps` would show it.
    const seen: string[] = [];
    const watch = setInterval(() => {
      for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
        try { seen.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')); } catch { /* gone */ }
      }
    }, 20);
    let inc: Incident;
    try {
      inc = await startIncident(w, config, 'c1-secrets');
    } finally {
      clearInterval(watch);
    }
    expect(inc.status).toBe('resolved');
    expect(inc.fence).toMatchObject({ driver: 'redfish+ceph', level: 1 });
    expect(seen.some((c) => c.includes('/usr/bin/python3 -c'))).toBe(true);
    const bmcPassword = (config.hosts.compute1!.fence as { password: { reveal(): string } }).password.reveal();
    const record = JSON.stringify(inc);
    for (const secret of [cmpha.key, bmcPassword]) {
      expect(seen.filter((c) => c.includes(secret))).toEqual([]);
      expect(record).not.toContain(secret);
    }
  }, 180_000);
  it('a host whose servers\' disks are RBD volumes is fenced by the storage level alone; after evacuation one writer per volume image', async () => {
    w = await pipelineWorld({ hosts: 2, instancesPerHost: 1, spares: 1, redisUrl: redisServer.url, cephMonIps: [lab.gateway] });
    const config = withCeph(w.config, cmpha, [['ceph']]);
    // Booted from an rbd volume, with a second one that was migrated (its image is named by _name_id, not its id).
    const vs = await serverWithVolumes(w, [{ boot: true }, { migrated: true }]);
    expect(vs.server.imageId).toBeNull();
    expect(vs.volumes[1]!.nameId).not.toBe(vs.volumes[1]!.id);
    await disksOf('compute1');
    const onHost = await w.serversOn('compute1');
    const rootDisks = onHost.filter((s) => s.imageId !== null).length;
    const servers = onHost.filter((s) => ['ACTIVE', 'ERROR'].includes(s.status));
    const imageBacked = servers.filter((s) => s.id !== vs.server.id);
    const old = [...await writers(imageBacked, h1), ...await imageWriters(vs.images, h1)];

    // check --storage sees the volume images and their one writer on compute1.
    const before = await runStorageCheck(config, computeOf(w.nova), w.volumes);
    const seen = before.servers.find((f) => f.serverId === vs.server.id)!;
    expect(seen.verdict).toBe('single');
    expect(seen.images.map((i) => i.image).sort()).toEqual([...vs.images].sort());

    for (const vm of old) vm.pause();
    await w.control('compute1', 'hang');
    await w.waitNovaDown('compute1');
    let fresh: RbdWriter[] = [];
    const inc = await startIncident(w, config, 'c1-volumes', servers, async () => {
      fresh = [...await writers(imageBacked, h2), ...await imageWriters(vs.images, h2)];
    });

    expect(inc.status).toBe('resolved');
    expect(inc.fence).toMatchObject({ driver: 'ceph', level: 1, unfenced: false });
    const attempt = inc.timeline.find((t) => t.step === 'fence' && /^level 1 ceph/.test(t.message))!;
    expect(attempt.message).toMatch(/confirmed/);
    // The volume images were among those checked for the host's watchers.
    expect(attempt.message).toContain(`${rootDisks + vs.images.length} image(s)`);
    expect(inc.timeline.filter((t) => t.step === 'writers').map((t) => t.message)).toEqual([
      expect.stringMatching(new RegExp(`^single-writer proof: ${servers.length} of ${servers.length} server\\(s\\) on Ceph have exactly one writer per disk, on their new host; 0 double writer\\(s\\); watchers: `)),
    ]);
    // The line names the watcher address it saw on each disk.
    const proof = inc.timeline.find((t) => t.step === 'writers')!.message;
    for (const vm of fresh) expect(proof).toContain(`${vm.image} ${vm.address!}`);
    for (const image of vs.images) {
      const vm = fresh.find((x) => x.image === image)!;
      expect(await ceph.watchers(image)).toEqual([vm.address]);
      expect(vm.address!.startsWith(`${h2.ips[0]}:`)).toBe(true);
    }
    // The old host's volume writers, resumed, are refused.
    const resumedAt = Date.now();
    for (const vm of old) vm.resume();
    const oldVolumes = old.filter((vm) => vs.images.includes(vm.image));
    await waitFor('the resumed volume writers to try again', async () => oldVolumes.every((vm) => vm.writesSince(resumedAt).length >= 3), 20_000);
    for (const vm of oldVolumes) expect(vm.writesSince(resumedAt).every((x) => !x.ok && x.errno === ESHUTDOWN)).toBe(true);
  }, 180_000);

  it('a server with an iSCSI volume: the storage level alone refuses, naming the server and the volume, and blocklists nothing', async () => {
    w = await pipelineWorld({ hosts: 2, instancesPerHost: 1, spares: 1, redisUrl: redisServer.url, cephMonIps: [lab.gateway] });
    const config = withCeph(w.config, cmpha, [['ceph']]);
    const vs = await serverWithVolumes(w, [{}, { driver: 'iscsi' }]);
    const iscsi = vs.volumes[1]!;
    await disksOf('compute1');
    await w.control('compute1', 'hang');
    await w.waitNovaDown('compute1');
    const inc = await startIncident(w, config, 'c1-iscsi', [], undefined, ['awaiting_fence']);

    expect(inc.status).toBe('awaiting_fence');
    expect(inc.error!.message).toContain('the storage fence alone cannot stop every writer');
    expect(inc.error!.message).toContain(`vm-volumes (${vs.server.id}): volume ${iscsi.id} (/dev/vdc) is attached over iscsi, not RBD on this Ceph`);
    // Its rbd data volume is covered: only the iSCSI one is named.
    expect(inc.error!.message).not.toContain(vs.volumes[0]!.id);
    expect(await ceph.blocklist()).not.toContain(`${h1.ips[0]}:0/0`);
    const svcId = (await w.nova.listComputeServices({ host: 'compute1' }))[0]!.id;
    const calls = callsAbout(await w.calls(), 'compute1', [vs.server.id], svcId);
    expect(calls.filter((c) => isServicePut(c) || isEvacuate(c))).toEqual([]);
  }, 180_000);
});
