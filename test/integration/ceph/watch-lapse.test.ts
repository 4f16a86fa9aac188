import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { cephStorageSignal } from '../../../src/app/storage-signal.js';
import { hostOf } from '../../../src/compute/nova/index.js';
import type { Config } from '../../../src/config/types.js';
import { createFpingProber } from '../../../src/detector/fping-prober.js';
import { judge, type HostObservation, type JudgeConfig } from '../../../src/detector/judge.js';
import type { HostJudgement, HostMemory } from '../../../src/detector/types.js';
import { addressIp } from '../../../src/fencing/ceph/ceph-client.js';
import { createStorageFence } from '../../../src/fencing/fence-plan.js';
import type { Server } from '../../../src/openstack/types.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { sleep } from '../../../src/shared/time.js';
import { CephCluster, COMPUTE_CAPS, CONTROLLER_CAPS, RbdWriter, type CephUser } from '../../helpers/ceph.js';
import { NetLab, type LabHost } from '../../helpers/netns.js';
import { ProcessGroup } from '../../helpers/processes.js';

// The watch-lapse proof (judge.ts lapseProof) against a real one-node Ceph: a compute host is a namespace with a
// management address, a storage address (the one its librbd clients use) and an instance address, pinged with
// real fping; its "VMs" are librbd writers holding their disks open. Nova stands still here (updated_at
// unchanged, a cloud whose report_interval is 60 s, heartbeat_interval = 60s): what this shows is what the
// storage side proves without the heartbeat, and when.

const JUDGE: JudgeConfig = { heartbeatIntervalMs: 60_000, heartbeatMarginMs: 1000, minSilenceMs: 5000, singleSignalSilenceMs: 30_000 };

let lab: NetLab;
let ceph: CephCluster;
let h: LabHost;
let cmpha: CephUser;
let compute: CephUser;
const procs = new ProcessGroup();

beforeAll(async () => {
  lab = await NetLab.create();
  h = await lab.addHost('h1', 3);
  ceph = await CephCluster.start({ bindIp: lab.gateway });
  cmpha = await ceph.createUser('cmpha', CONTROLLER_CAPS);
  compute = await ceph.createUser('compute', COMPUTE_CAPS);
}, 120_000);
afterAll(async () => {
  await procs.stopAll();
  await ceph?.stop();
  await lab?.destroy();
}, 60_000);

describe('the watch-lapse proof with a real Ceph', () => {
  it('a hung host: its watches linger, then lapse; with both networks and the instance silent it is dead by watch-lapse, never before; a resumed host re-watches and answers', async () => {
    const servers = [randomUUID(), randomUUID()].map((id, i) => ({ id, name: `vm-${i}`, host: 'compute1', imageId: 'img' }) as unknown as Server);
    await ceph.createImages('vms', servers.map((s) => `${s.id}_disk`));
    const conf = ceph.writeClientConf('h1', compute);
    const vms: RbdWriter[] = [];
    for (const s of servers) vms.push(await RbdWriter.start(procs, { ns: h.ns, conf, user: compute, image: `vms/${s.id}_disk`, intervalMs: 300 }));
    // The address its clients use is its storage address; the other two stand for management and an instance.
    const storageIp = addressIp(vms[0]!.address!);
    const [mgmtIp, instanceIp] = h.ips.filter((ip) => ip !== storageIp) as [string, string];
    const config = {
      ceph: {
        monHost: ceph.monHost, user: cmpha.id, keyringFile: cmpha.keyringPath, imagesRbdPool: 'vms', blocklistExpireS: 600,
        confirmTimeoutMs: 10_000, commandTimeoutMs: 15_000, writerProofTimeoutMs: 30_000, python: '/usr/bin/python3',
      },
      hosts: { compute1: { name: 'compute1', storageIps: [storageIp] } },
    } as unknown as Config;
    const storage = cephStorageSignal(config, createStorageFence(config.ceph!, { pollIntervalMs: 100 }), { guestsOn: async () => servers });
    const prober = createFpingProber({ fpingPath: 'fping', probeTimeoutMs: 300, probePacketIntervalMs: 1, probeCount: 1 }, { logger: silentLogger });
    const service = hostOf({
      id: 'svc', binary: 'nova-compute', host: 'compute1', zone: 'nova', state: 'up', status: 'enabled', forcedDown: false, disabledReason: null,
      updatedAt: new Date(Date.now() - 3000),
    }, { reasonPrefix: 'cmpha', spareReasonPrefix: 'down_prepare' });

    let memory: HostMemory | undefined;
    let round = 0;
    /** One look as the detector takes it at a suspect: probe every address, ask Ceph, judge. */
    const look = async (): Promise<HostJudgement & { storageWatches: string }> => {
      const mono = performance.now();
      const probed = await prober.probe([mgmtIp, storageIp, instanceIp]);
      const evidence = (await storage(['compute1'])).get('compute1') ?? null;
      const obs: HostObservation = {
        host: 'compute1', round: ++round, at: Date.now(), mono, probeMono: mono, service, serviceRead: { endMono: performance.now() },
        networks: [
          { role: 'mgmt', ip: mgmtIp, source: 'config', result: probed.get(mgmtIp) ?? 'unknown' },
          { role: 'storage', ip: storageIp, source: 'config', result: probed.get(storageIp) ?? 'unknown' },
        ],
        instances: { addresses: [{ ip: instanceIp, server: servers[0]!.id, network: 'provider', baseline: true, result: probed.get(instanceIp) ?? 'unknown' }] },
        storage: evidence,
      };
      const j = judge(obs, memory, JUDGE);
      memory = j.memory;
      return { ...j, storageWatches: evidence?.detail ?? '' };
    };

    for (let i = 0; i < 3; i++) expect((await look()).verdict).toBe('healthy');

    // The hang: the clients stop (SIGSTOP), the host's link goes dark; its BMC would still read on.
    const hungAt = performance.now();
    for (const vm of vms) vm.pause();
    await lab.setLink('h1', 'down');
    const seen: Array<{ t: number; verdict: string; lapsed: boolean | undefined; detail: string }> = [];
    let dead: HostJudgement | null = null;
    while (!dead && performance.now() - hungAt < 60_000) {
      const j = await look();
      seen.push({ t: (performance.now() - hungAt) / 1000, verdict: j.verdict, lapsed: j.evidence.storage?.lapsed, detail: j.storageWatches });
      if (j.verdict === 'dead') dead = j;
      else await sleep(1000);
    }
    const lapsedAt = seen.find((s) => s.lapsed === true)?.t;
    process.stderr.write(`watch-lapse: watches held until ${seen.filter((s) => s.lapsed !== true).at(-1)?.t.toFixed(1)} s after the hang, `
      + `lapsed by ${lapsedAt?.toFixed(1)} s, dead by ${dead?.evidence.deadBy} at ${seen.at(-1)?.t.toFixed(1)} s\n`);
    expect(dead?.evidence).toMatchObject({ deadBy: 'watch-lapse', nova: { says: 'up' }, storage: { alive: false, lapsed: true } });
    // Never dead while a watch was still held: the lingering watch (25-30 s) is what the proof waits for.
    expect(seen.filter((s) => s.lapsed !== true).map((s) => s.verdict)).not.toContain('dead');
    expect(seen.filter((s) => s.lapsed !== true).length).toBeGreaterThan(5);

    // The host comes back (the hang ends): its clients re-watch and it answers: alive, whatever lapsed before.
    await lab.setLink('h1', 'up');
    for (const vm of vms) vm.resume();
    await expect.poll(async () => (await ceph.watchers(`vms/${servers[0]!.id}_disk`)).length, { timeout: 20_000, interval: 250 }).toBe(1);
    await expect.poll(async () => (await look()).verdict, { timeout: 20_000, interval: 500 }).toBe('healthy');
  }, 150_000);
});
