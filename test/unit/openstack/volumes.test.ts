import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { createOpenStack, type OpenStack } from '../../../src/openstack/index.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { runSim, type RunningSim, type SimOptions } from '../../../src/sim/index.js';

// A server's volumes as cmpha reads them from the simulated cloud: Nova's os-volume_attachments joined with
// the connection_info of Cinder's attachment records (the RBD image name comes from there, not from the id).

let sim: RunningSim | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function start(opts: SimOptions = {}): Promise<OpenStack> {
  sim = await runSim({ hosts: 2, instancesPerHost: 1, spares: 1, seed: 11, ...opts });
  const config = await loadConfig({ path: sim.configPath, env: {} });
  return createOpenStack(config.cloud, { logger: silentLogger, retryBaseDelayMs: 5 });
}

interface SimServerState { id: string; name: string; volumes?: { id: string; nameId: string; attachmentId: string; device: string }[] }

async function addServer(spec: Record<string, unknown>): Promise<SimServerState> {
  const r = await fetch(`${sim!.controlUrl}/sim/servers`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: 'compute1', ...spec }) });
  if (r.status !== 201) throw new Error(`add server: ${r.status} ${await r.text()}`);
  const { server } = (await r.json()) as { server: { id: string; name: string } };
  return { ...server, volumes: sim!.world.servers.get(server.id)!.volumes as SimServerState['volumes'] };
}

async function faults(body: unknown): Promise<void> {
  const r = await fetch(`${sim!.controlUrl}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!r.ok) throw new Error(`faults: ${r.status} ${await r.text()}`);
}

describe('attached volumes', () => {
  it('names each rbd volume by the image in its connection_info, and an iSCSI one by its transport', async () => {
    const os = await start();
    const s = await addServer({ volumes: [{ boot: true }, { driver: 'iscsi' }, { migrated: true }] });
    const [boot, iscsi, moved] = s.volumes!;
    expect(moved!.nameId).not.toBe(moved!.id);

    const server = (await os.nova.getServer(s.id))!;
    expect(server.imageId).toBeNull();
    expect(server.volumeIds).toEqual([boot!.id, iscsi!.id, moved!.id]);

    const volumes = await os.volumes.serverVolumes(s.id);
    expect(volumes).toEqual([
      { volumeId: boot!.id, device: '/dev/vda', attachmentId: boot!.attachmentId, connection: { driverVolumeType: 'rbd', rbdName: `volumes/volume-${boot!.id}`, monHosts: ['198.19.127.254'] } },
      { volumeId: iscsi!.id, device: '/dev/vdb', attachmentId: iscsi!.attachmentId, connection: { driverVolumeType: 'iscsi' } },
      // After a migration the image is named by _name_id: the volume id would name an image that is not there.
      { volumeId: moved!.id, device: '/dev/vdc', attachmentId: moved!.attachmentId, connection: { driverVolumeType: 'rbd', rbdName: `volumes/volume-${moved!.nameId}`, monHosts: ['198.19.127.254'] } },
    ]);
  });

  it('before compute 2.89 (no attachment_id from Nova) finds the attachment by volume; one without connection_info says so', async () => {
    const os = await start({ maxMicroversion: '2.88' });
    const s = await addServer({ volumes: [{}, { driver: 'none' }] });
    const [rbd, old] = s.volumes!;
    const volumes = await os.volumes.serverVolumes(s.id);
    expect(volumes[0]).toMatchObject({ volumeId: rbd!.id, attachmentId: rbd!.attachmentId, connection: { rbdName: `volumes/volume-${rbd!.nameId}` } });
    expect(volumes[1]).toEqual({
      volumeId: old!.id, device: '/dev/vdc', attachmentId: old!.attachmentId, connection: null,
      missing: `its attachment ${old!.attachmentId} (attached) has no connection_info`,
    });
  });

  it('a server without volumes is not asked about at Cinder (which may be failing)', async () => {
    const os = await start();
    const plain = await addServer({});
    const withVolume = await addServer({ volumes: [{}] });
    expect((await os.nova.getServer(plain.id))!.volumeIds).toEqual([]);
    await faults({ services: ['cinder'], errorRate: 1 });
    expect(await os.volumes.serverVolumes(plain.id)).toEqual([]);
    await expect(os.volumes.serverVolumes(withVolume.id)).rejects.toMatchObject({ code: 'cinder_unavailable' });
  });

  it('without a volumev3 endpoint in the catalog, each volume says its connection cannot be read', async () => {
    const os = await start({ cinder: false });
    const s = await addServer({ volumes: [{}] });
    expect(await os.volumes.serverVolumes(s.id)).toEqual([
      { volumeId: s.volumes![0]!.id, device: '/dev/vdb', connection: null, missing: 'the catalog has no volumev3 endpoint, so its connection_info cannot be read' },
    ]);
  });

  it('a garbled connection_info makes only that volume unplaceable, and none of its values reach the answer', async () => {
    const os = await start();
    const s = await addServer({ volumes: [{}, {}] });
    const secret = 'chap-SECRET-7f3a';
    await faults({ corrupt: [{ path: '/attachments/detail', set: { 'attachments.0.connection_info': `{"driver_volume_type": "iscsi", "data": {"auth_password": "${secret}"}}` } }] });
    const volumes = await os.volumes.serverVolumes(s.id);
    const garbled = volumes.find((v) => v.connection === null)!;
    expect(garbled.missing).toMatch(/has a connection_info that is not an object with a driver_volume_type$/);
    expect(volumes.filter((v) => v.connection?.driverVolumeType === 'rbd')).toHaveLength(1);
    expect(JSON.stringify(volumes)).not.toContain(secret);
  });

  it('a Cinder answer without a volume_id is an error naming the field and the endpoint', async () => {
    const os = await start();
    const s = await addServer({ volumes: [{}] });
    await faults({ corrupt: [{ path: '/attachments/detail', unset: ['attachments.*.volume_id'] }] });
    await expect(os.volumes.serverVolumes(s.id)).rejects.toMatchObject({
      code: 'cinder_malformed_answer', message: expect.stringMatching(/attachments\[0\]\.volume_id is missing/),
    });
  });
});
