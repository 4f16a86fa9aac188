import { CmphaError, errorMessage } from '../../shared/errors.js';
import { wholeIpEntriesOf, type BlocklistState } from '../ceph/ceph-client.js';
import { StorageCode, type CephStorageFence } from '../ceph/storage-fence.js';
import type { Server, VolumeApi } from '../../openstack/types.js';
import type { DeviceAnswer, FenceDevice, StorageDeviceType } from '../device.js';

/** The host's storage on the configured Ceph: whole-IP blocklist of its storage_ips, confirmed. */
export const cephDevice: StorageDeviceType<'ceph', Record<never, never>> = {
  name: 'ceph',
  role: 'storage',
  summary: 'the host\'s Ceph clients blocklisted by their storage_ips, confirmed from the osdmap and the watchers',
  keys: {},
  unavailable(host) {
    if (!host.cephConfigured) return 'ceph needs a [ceph] section with keyring_file';
    if (host.storageIps.length === 0) return 'ceph needs storage_ips (the addresses this host\'s Ceph clients use)';
    return undefined;
  },
  device(env) {
    if (!env.storageFence || env.storageIps.length === 0 || !env.servers) return undefined;
    return storageDevice(env.storageFence, env.storageIps, env.servers, env.volumes, env.osdDump);
  },
  async check(env) {
    const dump = env.osdDump ?? (env.storageFence ? () => env.storageFence!.client.blocklistState() : undefined);
    if (!dump) return { device: 'ceph', answers: false, detail: 'no [ceph] section: nothing to blocklist the host with' };
    return readBlocklist(dump, env.storageIps);
  },
};

/** Reads the osdmap (`osd dump`): read-only, never a blocklist change. Never throws. */
async function readBlocklist(dump: () => Promise<BlocklistState>, ips: readonly string[]): Promise<DeviceAnswer> {
  try {
    const state = await dump();
    const listed = ips.flatMap((ip) => Object.keys(wholeIpEntriesOf(state, ip)));
    return { device: 'ceph', answers: true, detail: `osd dump answers (epoch ${state.epoch})${listed.length ? `; blocklisted now: ${listed.join(', ')}` : ''}` };
  } catch (err) {
    return { device: 'ceph', answers: false, detail: err instanceof CmphaError ? `${err.code}: ${err.message}` : errorMessage(err) };
  }
}

/**
 * The host's storage as a fence device: whole-IP blocklist of its storage addresses, confirmed from the
 * osdmap and its servers' watchers (image-backed disks and attached RBD volumes). Alone in a level it also
 * requires every disk of every server on the host to be on this Ceph, or it fails naming the disk that is not.
 */
export function storageDevice(
  fence: CephStorageFence, ips: readonly string[], servers: (signal?: AbortSignal) => Promise<readonly Server[]>, volumes?: VolumeApi,
  osdDump?: () => Promise<BlocklistState>,
): FenceDevice {
  return {
    kind: 'ceph',
    target: `${fence.target} ${ips.join(',') || '(no storage_ips)'}`,
    async fence(opts, emit) {
      let disks;
      try {
        disks = await fence.hostDisks(await servers(opts.signal), volumes, opts.signal);
      } catch (err) {
        return { ok: false, code: (err as { code?: string }).code ?? StorageCode.unreachable, reason: `cannot list the host's disks: ${errorMessage(err)}` };
      }
      if (opts.alone && disks.uncovered.length > 0) {
        return {
          ok: false, code: StorageCode.notCovering,
          reason: `the storage fence alone cannot stop every writer: ${disks.uncovered.slice(0, 5).map((u) => u.reason).join('; ')}${disks.uncovered.length > 5 ? ` and ${disks.uncovered.length - 5} more` : ''}`,
        };
      }
      emit({ kind: 'blocklist', detail: `${fence.target}: blocklisting ${ips.map((ip) => `${ip}:0/0`).join(', ')} for ${fence.settings.expireS} s; ${disks.images.length} image(s) to check` });
      const r = await fence.fence(ips, disks.images, opts.signal);
      if (!r.ok) return { ok: false, code: r.code, reason: r.reason, ...(r.evidence ? { evidence: r.evidence } : {}) };
      const listed = Object.entries(r.evidence.listed).map(([a, until]) => `${a} until ${until}`).join(', ');
      return {
        ok: true, alreadyOff: false, unfenced: false, poweredOff: false, evidence: r.evidence,
        detail: `osdmap e${r.evidence.osdmapEpoch ?? '?'} lists ${listed}; no watcher of the host on its ${r.evidence.imagesChecked} image(s)`,
      };
    },
    read: () => readBlocklist(osdDump ?? (() => fence.client.blocklistState()), ips),
    async unfence(signal) {
      const { remaining } = await fence.unfence(ips, signal);
      if (remaining.length > 0) throw new CmphaError(StorageCode.unreachable, `${fence.target}: still blocklisted after removal: ${remaining.join(', ')}`);
    },
  };
}
