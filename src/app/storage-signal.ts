import type { Config } from '../config/types.js';
import type { StorageSignal } from '../detector/index.js';
import type { StorageEvidence } from '../detector/types.js';
import { aliveOnStorage, surveyStorage, type SurveyHost } from '../fencing/ceph/storage-survey.js';
import type { CephStorageFence } from '../fencing/ceph/storage-fence.js';
import type { ComputeBackend, Guest } from '../compute/types.js';
import type { VolumeApi } from '../openstack/types.js';

export interface StorageSignalOptions {
  /** How long a watch may outlive its client (osd_client_watch_timeout 30 s): only watches older than this prove life. */
  readonly graceMs?: number;
  /** The host's server list is re-read at most this often while it stays suspect. */
  readonly serversTtlMs?: number;
  readonly now?: () => number;
  /** The servers' attached volumes, so watches on their RBD volume images count too. */
  readonly volumes?: VolumeApi;
}

/**
 * Ceph watchers as the detector's storage-side signal. The detector asks only about hosts that look suspect,
 * so the first time a host is asked marks when its silence was first seen; a host that has left the suspects
 * (not asked for two grace periods) starts afresh. A watch held past the grace is a live client (alive), no
 * watch at all says nothing against death (false), and a watch younger than the grace may belong to a client
 * that just died (null: not evidence either way). Watches seen since the host came under suspicion and gone now
 * have lapsed (`lapsed`): the OSDs dropped them after 25-30 s without a ping (ceph-facts), one part of the
 * watch-lapse proof of death (judge.ts). None seen at all is no lapse: a host with no RBD client proves nothing.
 */
export function cephStorageSignal(
  config: Config, fence: CephStorageFence, compute: Pick<ComputeBackend, 'guestsOn'>, opts: StorageSignalOptions = {},
): StorageSignal {
  const grace = opts.graceMs ?? 30_000;
  const ttl = opts.serversTtlMs ?? 30_000;
  const now = opts.now ?? Date.now;
  /** Per suspicion: when the host was first and last asked about, and the most watches seen held in between. */
  const firstAsked = new Map<string, { first: number; last: number; held: number }>();
  const servers = new Map<string, { at: number; list: readonly Guest[] }>();

  return async (hosts, signal) => {
    const t = now();
    const withStorage = hosts.filter((h) => (config.hosts[h]?.storageIps?.length ?? 0) > 0);
    for (const [h, s] of firstAsked) if (t - s.last > 2 * grace) firstAsked.delete(h);
    const survey: SurveyHost[] = [];
    for (const h of withStorage) {
      const seen = firstAsked.get(h);
      firstAsked.set(h, { first: seen?.first ?? t, last: t, held: seen?.held ?? 0 });
      let cached = servers.get(h);
      if (!cached || t - cached.at > ttl) {
        cached = { at: t, list: await compute.guestsOn(h, signal ? { signal } : {}) };
        servers.set(h, cached);
      }
      survey.push({ host: h, storageIps: config.hosts[h]!.storageIps!, servers: cached.list });
    }
    const out = new Map<string, StorageEvidence>();
    if (survey.length === 0) return out;
    const result = await surveyStorage(fence, survey, signal, now, opts.volumes);
    for (const e of result.hosts) {
      const asked = firstAsked.get(e.host)!;
      const since = asked.first;
      const held = asked.held;
      asked.held = Math.max(held, e.watches);
      if (e.watches === 0 && held > 0) out.set(e.host, { alive: false, lapsed: true, detail: `no watch held from its storage addresses: the ${held} seen since it came under suspicion lapsed` });
      else if (e.watches === 0) out.set(e.host, { alive: false, lapsed: false, detail: 'no watch held from its storage addresses' });
      else if (aliveOnStorage(e, since, grace)) out.set(e.host, { alive: true, detail: `${e.watches} watch(es) still held ${Math.round((e.at - since) / 1000)} s after the silence began` });
      else out.set(e.host, { alive: null, detail: `${e.watches} watch(es) held, within the ${grace / 1000} s a dead client's watch lingers` });
    }
    return out;
  };
}
