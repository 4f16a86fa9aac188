import { sleep } from '../../shared/time.js';
import type { VolumeApi } from '../../openstack/types.js';
import { addressIp, type ImageWatchers } from './ceph-client.js';
import { resolveServerDisks, type UncoveredDisk } from './server-disks.js';
import type { CephStorageFence } from './storage-fence.js';

/** What the pipeline's single-writer proof runs with. */
export interface SingleWriterDeps {
  readonly fence: CephStorageFence;
  /** The storage addresses of a host (its `storage_ips`). */
  readonly storageIpsOf: (host: string) => readonly string[];
  readonly timeoutMs: number;
  readonly pollIntervalMs: number;
  /** Each server's attached volumes, so their images are proven too; absent: image-backed disks only. */
  readonly volumes?: VolumeApi;
}

/** Where a server runs by Nova's word, and the storage addresses of that host. */
export interface WriterExpectation {
  readonly serverId: string;
  readonly serverName: string;
  readonly host: string;
  readonly hostIps: readonly string[];
}

export type WriterVerdict =
  /** Every disk has exactly one watcher, from the server's host. */
  | 'single'
  /** A disk has a watcher from another host, or more than one: two writers (the data-loss accident). */
  | 'double-writer'
  /** A disk has no watcher yet (the VM has not opened it within the wait), or watchers could not be read. */
  | 'unproven'
  /** The server has no RBD image in the pool (not on this Ceph): nothing to prove here. */
  | 'not-on-ceph';

export interface WriterFinding {
  readonly serverId: string;
  readonly serverName: string;
  readonly host: string;
  readonly verdict: WriterVerdict;
  readonly images: readonly { readonly image: string; readonly watchers: readonly string[] }[];
  readonly detail: string;
}

export interface ProveOptions {
  /** Bounded: a VM just evacuated may take a while to open its disks. */
  readonly timeoutMs: number;
  readonly pollIntervalMs: number;
  readonly signal?: AbortSignal;
  /** Where the servers' volumes are read (see SingleWriterDeps.volumes). */
  readonly volumes?: VolumeApi;
}

/** The verdict over one server's images at one look. */
export function judgeWriters(e: WriterExpectation, seen: readonly ImageWatchers[]): WriterFinding {
  const images = seen.map((s) => ({ image: s.image, watchers: 'watchers' in s ? s.watchers.map((w) => w.address) : [] }));
  const base = { serverId: e.serverId, serverName: e.serverName, host: e.host, images };
  if (seen.length === 0) return { ...base, verdict: 'not-on-ceph', detail: `${e.serverName}: no RBD image in the pool` };
  // Without the host's storage addresses no watcher can be told its own from a foreign one.
  if (e.hostIps.length === 0) return { ...base, verdict: 'unproven', detail: `${e.serverName}: ${e.host} has no storage_ips, so its writers cannot be told from another host's` };
  const own = new Set(e.hostIps);
  const foreign = images.flatMap((i) => i.watchers.filter((a) => !own.has(addressIp(a))).map((a) => `${i.image} ${a}`));
  const crowded = images.filter((i) => i.watchers.length > 1);
  if (foreign.length > 0 || crowded.length > 0) {
    const parts = [
      ...(foreign.length > 0 ? [`watcher(s) not on ${e.host} (${e.hostIps.join(', ')}): ${foreign.join(', ')}`] : []),
      ...crowded.map((i) => `${i.image} has ${i.watchers.length} watchers: ${i.watchers.join(', ')}`),
    ];
    return { ...base, verdict: 'double-writer', detail: `${e.serverName} (${e.serverId}): ${parts.join('; ')}` };
  }
  const unread = seen.filter((s) => 'errno' in s).map((s) => s.image);
  const idle = images.filter((i) => i.watchers.length === 0 && !unread.includes(i.image)).map((i) => i.image);
  if (unread.length > 0 || idle.length > 0) {
    return {
      ...base, verdict: 'unproven',
      detail: `${e.serverName}: ${[...(idle.length ? [`no watcher yet on ${idle.join(', ')}`] : []), ...(unread.length ? [`watchers unreadable on ${unread.join(', ')}`] : [])].join('; ')}`,
    };
  }
  return { ...base, verdict: 'single', detail: `${e.serverName}: one watcher per disk, on ${e.host}` };
}

/**
 * A disk whose place could not be told (its volume unreadable, no connection_info) leaves the proof about
 * that server open, however its other disks look; a double writer stays a double writer.
 */
export function withUnknownDisks(f: WriterFinding, unknown: readonly UncoveredDisk[]): WriterFinding {
  if (unknown.length === 0 || f.verdict === 'double-writer') return f;
  const why = unknown.map((u) => u.reason).join('; ');
  return { ...f, verdict: 'unproven', detail: f.verdict === 'unproven' ? `${f.detail}; ${why}` : `${f.serverName}: ${why}` };
}

/**
 * Proof of a single writer per disk: polls (one librados connection per look for every image) until each
 * server's disks (image-backed and attached RBD volumes) have exactly one watcher from its own host, or the
 * wait ends. Only idle disks are waited for; a double writer is reported as it was last seen.
 */
export async function proveSingleWriter(fence: CephStorageFence, expected: readonly WriterExpectation[], opts: ProveOptions): Promise<WriterFinding[]> {
  if (expected.length === 0) return [];
  const { imagesOf, uncovered } = await resolveServerDisks(fence.client, fence.settings, expected.map((e) => ({ id: e.serverId, name: e.serverName })), opts.volumes, opts.signal);
  const unknownOf = (id: string) => uncovered.filter((u) => u.serverId === id && !u.known);
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const all = [...imagesOf.values()].flat();
    const seen = new Map((await fence.client.watchers(all, opts.signal)).map((s) => [s.image, s]));
    const findings = expected.map((e) => withUnknownDisks(judgeWriters(e, imagesOf.get(e.serverId)!.map((i) => seen.get(i)!).filter(Boolean)), unknownOf(e.serverId)));
    const waiting = findings.some((f) => f.verdict === 'unproven');
    if (!waiting || Date.now() >= deadline) return findings;
    await sleep(opts.pollIntervalMs, opts.signal);
  }
}
