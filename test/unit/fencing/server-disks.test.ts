import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { CephClient } from '../../../src/fencing/ceph/ceph-client.js';
import { monIpsOf, placeVolume, resolveServerDisks, type DiskPools } from '../../../src/fencing/ceph/server-disks.js';
import { createOpenStack, type OpenStack } from '../../../src/openstack/index.js';
import type { Server } from '../../../src/openstack/types.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { runSim, type RunningSim } from '../../../src/sim/index.js';

// Which disks of which servers are on this Ceph: image-backed ones by the pool listing, attached volumes by
// the image their Cinder attachment's connection_info names. Against the simulated cloud and its Ceph.

let sim: RunningSim;
let os: OpenStack;
let client: CephClient;
const POOLS: DiskPools = { imagesPool: 'vms', volumePools: ['volumes'], monIps: ['198.19.127.254'] };

beforeAll(async () => {
  sim = await runSim({ hosts: 2, instancesPerHost: 1, spares: 0, seed: 5 });
  const config = await loadConfig({ path: sim.configPath, env: {} });
  os = createOpenStack(config.cloud, { logger: silentLogger, retryBaseDelayMs: 5 });
  client = new CephClient({ user: 'cmpha', keyringPath: '', python: '/usr/bin/python3', timeoutMs: 5000, simUrl: sim.controlUrl });
});
afterAll(async () => {
  await sim?.close();
});

async function add(name: string, volumes: Record<string, unknown>[]): Promise<Server> {
  const r = await fetch(`${sim.controlUrl}/sim/servers`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: 'compute1', name, volumes }) });
  if (r.status !== 201) throw new Error(`add server: ${r.status} ${await r.text()}`);
  return (await os.nova.getServer(((await r.json()) as { server: { id: string } }).server.id))!;
}

const volumesOf = (s: Server) => sim.world.servers.get(s.id)!.volumes!;

describe('resolveServerDisks', () => {
  it('counts image-backed disks and rbd volumes (by their connection_info name) as on this Ceph', async () => {
    const plain = (await os.nova.listServersOnHost('compute1'))[0]!;
    const boot = await add('boot', [{ boot: true }, { migrated: true }]);
    const [root, data] = volumesOf(boot);
    const { imagesOf, uncovered } = await resolveServerDisks(client, POOLS, [plain, boot], os.volumes);
    expect(uncovered).toEqual([]);
    expect(imagesOf.get(plain.id)).toEqual([`vms/${plain.id}_disk`]);
    expect(imagesOf.get(boot.id)).toEqual([`volumes/volume-${root!.id}`, `volumes/volume-${data!.nameId}`]);
  });

  it('names each disk that is not on this Ceph, and whether where it is could be told', async () => {
    const s = await add('mixed', [{ driver: 'iscsi' }, { driver: 'none' }, {}]);
    const [iscsi, old, rbd] = volumesOf(s);
    const { imagesOf, uncovered } = await resolveServerDisks(client, POOLS, [s], os.volumes);
    expect(imagesOf.get(s.id)).toEqual([`vms/${s.id}_disk`, `volumes/volume-${rbd!.id}`]);
    expect(uncovered).toEqual([
      { serverId: s.id, serverName: 'mixed', known: true, reason: `mixed (${s.id}): volume ${iscsi!.id} (/dev/vdb) is attached over iscsi, not RBD on this Ceph` },
      { serverId: s.id, serverName: 'mixed', known: false, reason: `mixed (${s.id}): volume ${old!.id} (/dev/vdc): its attachment ${old!.attachmentId} (attached) has no connection_info` },
    ]);
  });

  it('an rbd volume in a pool that is not configured, or on other monitors, is not on this Ceph', async () => {
    const s = await add('elsewhere', [{ boot: true }]);
    const [v] = volumesOf(s);
    const other = await resolveServerDisks(client, { ...POOLS, volumePools: ['cinder-ssd'] }, [s], os.volumes);
    expect(other.uncovered.map((u) => u.reason)).toEqual([
      `elsewhere (${s.id}): volume ${v!.id} (/dev/vda) is volumes/volume-${v!.id}, and volumes is not one of [ceph] volume_pools (cinder-ssd)`,
    ]);
    const cluster = await resolveServerDisks(client, { ...POOLS, monIps: ['198.18.200.1'] }, [s], os.volumes);
    expect(cluster.uncovered.map((u) => u.reason)).toEqual([
      `elsewhere (${s.id}): volume ${v!.id} (/dev/vda) is volumes/volume-${v!.id} on the cluster of monitors 198.19.127.254, not this one (198.18.200.1)`,
    ]);
  });

  it('without a reader for volumes, a server with volumes is not covered; one without still is', async () => {
    const plain = (await os.nova.listServersOnHost('compute2'))[0]!;
    const s = await add('unread', [{}]);
    const { uncovered } = await resolveServerDisks(client, POOLS, [plain, s], undefined);
    expect(uncovered).toEqual([{ serverId: s.id, serverName: 'unread', known: false, reason: `unread (${s.id}): its attached volumes are not read here` }]);
  });

  it('an image the connection_info names that is not in its pool is not on this Ceph', async () => {
    const s = await add('ghost', [{}]);
    const listing = { listImages: async () => new Map([['vms', [`${s.id}_disk`]], ['volumes', ['volume-someone-else']]]) };
    const { uncovered } = await resolveServerDisks(listing, POOLS, [s], os.volumes);
    expect(uncovered.map((u) => u.reason)).toEqual([
      `ghost (${s.id}): volume ${volumesOf(s)[0]!.id} (/dev/vdb) is volumes/volume-${volumesOf(s)[0]!.id}, which does not exist on this Ceph`,
    ]);
  });
});

describe('a volume pool this cluster does not have', () => {
  it('lists as empty, so its volumes are named as not here; a missing images pool stays an error', async () => {
    const s = await add('other-cluster', [{}]);
    // What the librados helper answers when open_ioctx finds no such pool (ENOENT).
    const helper = (present: readonly string[]) => new CephClient({
      user: 'cmpha', keyringPath: '/dev/null', python: '/usr/bin/python3', timeoutMs: 5000,
      runner: async (_file, _args, opts) => {
        const ops = (JSON.parse(String(opts.input)) as { ops: { pool: string }[] }).ops;
        const results = ops.map((op) => (present.includes(op.pool)
          ? { pool: op.pool, names: [`${s.id}_disk`] }
          : { pool: op.pool, errno: 2, error: `[errno 2] RADOS object not found (error opening pool '${op.pool}')` }));
        return { exitCode: 0, signal: null, stdout: JSON.stringify({ results }), stderr: '', durationMs: 1 };
      },
    });
    const { uncovered } = await resolveServerDisks(helper(['vms']), POOLS, [s], os.volumes);
    expect(uncovered.map((u) => u.reason)).toEqual([
      `other-cluster (${s.id}): volume ${volumesOf(s)[0]!.id} (/dev/vdb) is volumes/volume-${volumesOf(s)[0]!.id}, which does not exist on this Ceph`,
    ]);
    await expect(resolveServerDisks(helper(['volumes']), POOLS, [s], os.volumes)).rejects.toThrow(/cannot list pool vms/);
  });
});

describe('placeVolume and monIpsOf', () => {
  it('an rbd connection without pool/image is not placed', () => {
    expect(placeVolume({ volumeId: 'v1', connection: { driverVolumeType: 'rbd', rbdName: 'volume-1' } }, POOLS))
      .toEqual({ ok: false, known: false, reason: 'volume v1: its rbd connection_info names no pool/image (data.name "volume-1")' });
    expect(placeVolume({ volumeId: 'v1', connection: { driverVolumeType: 'rbd' } }, POOLS))
      .toEqual({ ok: false, known: false, reason: 'volume v1: its rbd connection_info names no pool/image (data.name missing)' });
  });

  it('reads the monitor IPs of every mon_host form', () => {
    expect(monIpsOf('v1:198.19.0.1:6789')).toEqual(['198.19.0.1']);
    expect(monIpsOf('[v2:198.19.0.1:3300/0,v1:198.19.0.1:6789/0] [v2:198.19.0.2:3300/0,v1:198.19.0.2:6789/0]')).toEqual(['198.19.0.1', '198.19.0.2']);
    expect(monIpsOf('198.19.0.1,198.19.0.2:6789')).toEqual(['198.19.0.1', '198.19.0.2']);
    expect(monIpsOf(undefined)).toEqual([]);
  });
});
