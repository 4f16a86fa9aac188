import type { Server, VolumeApi } from '../../openstack/types.js';
import { addressIp, type ImageWatchers } from './ceph-client.js';
import { resolveServerDisks } from './server-disks.js';
import { judgeWriters, withUnknownDisks, type WriterFinding } from './single-writer.js';
import type { CephStorageFence } from './storage-fence.js';

export interface SurveyHost {
  readonly host: string;
  readonly storageIps: readonly string[];
  /** The servers Nova places on the host. */
  readonly servers: readonly Server[];
}

/** What Ceph says about one host's storage clients. */
export interface HostStorageEvidence {
  readonly host: string;
  /** Watches held from the host's storage addresses, on any surveyed image. */
  readonly watches: number;
  /** Its client addresses (`IP:0/nonce`) seen, for the record. */
  readonly clients: readonly string[];
  readonly at: number;
}

export interface StorageSurvey {
  /** Per server: exactly one writer, from the host Nova places it on? */
  readonly servers: readonly WriterFinding[];
  readonly hosts: readonly HostStorageEvidence[];
}

/**
 * Every surveyed server's images and their watchers, over one librados connection (one pool listing, one
 * watcher read for all). Two uses: `cmpha check --storage` (a watcher on a server's disk from a host Nova does
 * not place it on is the seed of the data-loss accident) and storage evidence for detection (a host whose
 * clients still hold watches is alive on its storage network).
 */
export async function surveyStorage(fence: CephStorageFence, hosts: readonly SurveyHost[], signal?: AbortSignal, now = Date.now, volumes?: VolumeApi): Promise<StorageSurvey> {
  const { imagesOf, uncovered } = await resolveServerDisks(fence.client, fence.settings, hosts.flatMap((h) => h.servers), volumes, signal);
  const seen = new Map<string, ImageWatchers>((await fence.client.watchers([...imagesOf.values()].flat(), signal)).map((s) => [s.image, s]));
  const at = now();
  const servers: WriterFinding[] = [];
  const byIp = new Map<string, string[]>();
  for (const w of seen.values()) {
    if (!('watchers' in w)) continue;
    for (const x of w.watchers) byIp.set(addressIp(x.address), [...(byIp.get(addressIp(x.address)) ?? []), x.address]);
  }
  for (const h of hosts) {
    for (const s of h.servers) {
      const images = imagesOf.get(s.id)!.map((i) => seen.get(i)).filter((x): x is ImageWatchers => x !== undefined);
      const unknown = uncovered.filter((u) => u.serverId === s.id && !u.known);
      servers.push(withUnknownDisks(judgeWriters({ serverId: s.id, serverName: s.name, host: h.host, hostIps: h.storageIps }, images), unknown));
    }
  }
  const evidence = hosts.map((h): HostStorageEvidence => {
    const clients = h.storageIps.flatMap((ip) => byIp.get(ip) ?? []);
    return { host: h.host, watches: clients.length, clients: [...new Set(clients)], at };
  });
  return { servers, hosts: evidence };
}

/**
 * A host whose storage clients still hold watches more than `graceMs` after its management silence began is
 * alive on storage: a dead or hung client's watch lapses 25–30 s after its last ping (osd_client_watch_timeout
 * 30 s, pings every 5 s), so only a live client keeps one that long. Never fence a host for silence then.
 */
export function aliveOnStorage(e: Pick<HostStorageEvidence, 'watches' | 'at'>, silenceStartedAt: number, graceMs = 30_000): boolean {
  return e.watches > 0 && e.at - silenceStartedAt > graceMs;
}
