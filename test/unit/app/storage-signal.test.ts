import { describe, expect, it } from 'vitest';
import { cephStorageSignal } from '../../../src/app/storage-signal.js';
import type { Config } from '../../../src/config/types.js';
import type { CephClient } from '../../../src/fencing/ceph/ceph-client.js';
import { CephStorageFence } from '../../../src/fencing/ceph/storage-fence.js';
import { buildWorld } from '../../../src/sim/build-world.js';
import { SimCeph, storageIpFor } from '../../../src/sim/ceph.js';
import { SimClock } from '../../../src/sim/clock.js';
import type { Server } from '../../../src/openstack/types.js';

// The simulated Ceph follows ceph-facts: a hung host's watch lingers 25-30 s, a live host keeps its watch.
function setup() {
  const clock = new SimClock();
  const w = buildWorld({ reportIntervalSeconds: 10, serviceDownTimeSeconds: 60, hosts: 2, instancesPerHost: 3, spares: 0, seed: 5 }, clock);
  const ceph = new SimCeph(w);
  const run = (ops: unknown[]) => (ceph.handle({ ops }) as { results: Record<string, unknown>[] }).results;
  const client = {
    describe: 'sim ceph',
    async listImages(pools: readonly string[]) {
      return new Map(run(pools.map((pool) => ({ op: 'list', pool }))).map((r) => [r.pool as string, r.names as string[]]));
    },
    async watchers(images: readonly string[]) {
      return (run([{ op: 'watchers', images }])[0] as { images: never[] }).images;
    },
  } as unknown as CephClient;
  const fence = new CephStorageFence(client, { imagesPool: 'vms', volumePools: [], expireS: 600, confirmTimeoutMs: 1000, pollIntervalMs: 100 });
  const host = w.serverList.find((s) => s.vmState === 'active')!.host!;
  const h = w.host(host)!;
  const config = { hosts: { [host]: { name: host, storageIps: [storageIpFor(h)] } } } as unknown as Config;
  const compute = {
    async guestsOn(name: string) {
      return w.serverList.filter((s) => s.host === name).map((s) => ({ id: s.id, name: s.name, host: s.host }) as unknown as Server);
    },
  };
  const signal = cephStorageSignal(config, fence, compute, { now: () => clock.now() });
  return { w, clock, h, host, signal };
}

describe('Ceph watchers as detection evidence', () => {
  it('a host whose clients keep their watches past 30 s of silence is alive on storage', async () => {
    const { clock, host, signal } = setup();
    expect((await signal([host])).get(host)).toMatchObject({ alive: null });
    clock.advance(31_000);
    expect((await signal([host])).get(host)).toMatchObject({ alive: true, detail: expect.stringMatching(/still held 31 s after/) });
  });

  it('a hung host\'s lingering watch is not evidence of life, and once it lapses the storage side is silent', async () => {
    const { w, clock, h, host, signal } = setup();
    w.hang(h);
    expect((await signal([host])).get(host)).toMatchObject({ alive: null });
    clock.advance(31_000);
    expect((await signal([host])).get(host)).toMatchObject({ alive: false, lapsed: true, detail: expect.stringMatching(/^no watch held from its storage addresses: the \d+ seen since it came under suspicion lapsed$/) });
  });

  it('a host whose clients held no watch when it came under suspicion shows no lapse: holding none proves nothing', async () => {
    const { w, clock, h, host, signal } = setup();
    w.hang(h);
    clock.advance(31_000);
    expect((await signal([host])).get(host)).toEqual({ alive: false, lapsed: false, detail: 'no watch held from its storage addresses' });
    clock.advance(5_000);
    expect((await signal([host])).get(host)).toMatchObject({ lapsed: false });
  });

  it('hosts without storage addresses are not surveyed', async () => {
    const { signal } = setup();
    expect((await signal(['no-such-host'])).size).toBe(0);
  });
});
