import type { Server, VolumeApi } from '../../openstack/types.js';
import { CmphaError, errorMessage } from '../../shared/errors.js';
import { sleep } from '../../shared/time.js';
import { addressIp, CephCode, wholeIpEntriesOf, type CephClient, type ImageWatchers } from './ceph-client.js';
import { resolveServerDisks, type DiskPools, type UncoveredDisk } from './server-disks.js';

export type { UncoveredDisk };

export interface StorageFenceSettings extends DiskPools {
  /** Expiry of each blocklist entry; re-adding resets it. */
  readonly expireS: number;
  /** How long to wait for the host's watchers to disappear after the blocklist is listed. */
  readonly confirmTimeoutMs: number;
  readonly pollIntervalMs: number;
}

export interface HostDisks {
  /** `pool/name` of every RBD image of the host's servers, volumes included. */
  readonly images: readonly string[];
  readonly uncovered: readonly UncoveredDisk[];
}

/** What a storage fence found; it goes into the incident timeline as it is. */
export interface StorageEvidence {
  readonly addresses: readonly string[];
  /** The host's entries as the osdmap lists them, with their expiry. */
  readonly listed: Readonly<Record<string, string>>;
  readonly osdmapEpoch?: number;
  readonly imagesChecked: number;
  /** Watchers from the host's addresses still on its images at the last look. */
  readonly watchersLeft: readonly { readonly image: string; readonly address: string }[];
  /** Images whose watchers could not be read. */
  readonly unreadable: readonly string[];
  readonly durationMs: number;
}

export type StorageFenceResult =
  | { readonly ok: true; readonly evidence: StorageEvidence }
  | { readonly ok: false; readonly code: string; readonly reason: string; readonly evidence?: StorageEvidence };

export const StorageCode = {
  ...CephCode,
  /** The blocklist entries were added but the osdmap does not list them all. */
  notListed: 'storage_blocklist_not_listed',
  /** Some watcher from the host's addresses stayed on an image. */
  watchersRemain: 'storage_watchers_remain',
  /** The host has no storage addresses configured. */
  noAddresses: 'storage_no_addresses',
  /** A disk of a server is not on this Ceph, so the storage fence cannot stop every writer alone. */
  notCovering: 'storage_not_covering',
} as const;

/**
 * Ceph RBD fencing of one host: a whole-IP blocklist entry (`IP:0/0`) for each of its storage addresses, which
 * stops every librados client there at once, new processes included; then proof from the osdmap and from
 * the watchers of its servers' images. A watch that lapses by itself is no fence (ceph-facts), so only the
 * osdmap listing plus no watcher left counts.
 */
export class CephStorageFence {
  constructor(readonly client: CephClient, readonly settings: StorageFenceSettings) {}

  get target(): string {
    return this.client.describe;
  }

  /** The RBD images of these servers (volumes included), and each disk that is not provably on this Ceph. */
  async hostDisks(servers: readonly Server[], volumes: VolumeApi | undefined, signal?: AbortSignal): Promise<HostDisks> {
    const { imagesOf, uncovered } = await resolveServerDisks(this.client, this.settings, servers, volumes, signal);
    return { images: [...imagesOf.values()].flat(), uncovered };
  }

  /** Blocklists every address, then waits (bounded) until the osdmap lists each and no host watcher remains. */
  async fence(ips: readonly string[], images: readonly string[], signal?: AbortSignal): Promise<StorageFenceResult> {
    const started = Date.now();
    if (ips.length === 0) return { ok: false, code: StorageCode.noAddresses, reason: 'the host has no storage_ips: nothing to blocklist' };
    const hostIps = new Set(ips);
    let listed: Record<string, string> = {};
    let epoch: number | undefined;
    let left: { image: string; address: string }[] = [];
    let unreadable: string[] = [];
    const evidence = (): StorageEvidence => ({
      addresses: ips, listed, ...(epoch !== undefined ? { osdmapEpoch: epoch } : {}), imagesChecked: images.length,
      watchersLeft: left, unreadable, durationMs: Date.now() - started,
    });
    try {
      const first = await this.client.blocklistRefresh(ips, this.settings.expireS, images, signal);
      const state = first.state;
      epoch = state.epoch;
      listed = Object.assign({}, ...ips.map((ip) => wholeIpEntriesOf(state, ip))) as Record<string, string>;
      const missing = ips.filter((ip) => Object.keys(wholeIpEntriesOf(state, ip)).length === 0);
      if (missing.length > 0) {
        return { ok: false, code: StorageCode.notListed, reason: `osd dump lists no whole-IP entry for ${missing.join(', ')} after blocklist add`, evidence: evidence() };
      }
      const deadline = started + this.settings.confirmTimeoutMs;
      for (let seen = first.watchers; ; seen = await this.client.watchers(images, signal)) {
        ({ left, unreadable } = hostWatchers(seen, hostIps));
        if (left.length === 0 && unreadable.length === 0) return { ok: true, evidence: evidence() };
        if (Date.now() >= deadline) break;
        await sleep(this.settings.pollIntervalMs, signal);
      }
      const why = left.length > 0
        ? `${left.length} watcher(s) of the host remain: ${left.slice(0, 5).map((w) => `${w.image} ${w.address}`).join(', ')}`
        : `watchers of ${unreadable.slice(0, 5).join(', ')} could not be read`;
      return { ok: false, code: StorageCode.watchersRemain, reason: `blocklisted, but ${why} after ${this.settings.confirmTimeoutMs} ms`, evidence: evidence() };
    } catch (err) {
      const e = err instanceof CmphaError ? err : new CmphaError(CephCode.commandFailed, errorMessage(err));
      return { ok: false, code: e.code, reason: e.message, evidence: evidence() };
    }
  }

  /** The host's whole-IP entries (either form) the osdmap lists now. */
  async listed(ips: readonly string[], signal?: AbortSignal): Promise<string[]> {
    const state = await this.client.blocklistState(signal);
    return ips.flatMap((ip) => Object.keys(wholeIpEntriesOf(state, ip)));
  }

  /** A fresh expiry for every address's entry, without a moment unlisted (see CephClient.blocklistRefresh). */
  async renew(ips: readonly string[], signal?: AbortSignal): Promise<void> {
    const { state } = await this.client.blocklistRefresh(ips, this.settings.expireS, [], signal);
    const missing = ips.filter((ip) => Object.keys(wholeIpEntriesOf(state, ip)).length === 0);
    if (missing.length > 0) throw new CmphaError(StorageCode.notListed, `${this.target}: osd dump lists no whole-IP entry for ${missing.join(', ')} after the renewal`);
  }

  /** Removes the host's whole-IP entries (`blocklist rm`); librbd's own exact-address entries stay and expire. */
  async unfence(ips: readonly string[], signal?: AbortSignal): Promise<{ readonly remaining: readonly string[] }> {
    const state = await this.client.blocklistRemove(ips, signal);
    return { remaining: ips.flatMap((ip) => Object.keys(wholeIpEntriesOf(state, ip))) };
  }
}

/** Watchers whose IP is one of `ips`, and images whose watchers could not be read (a missing image has none). */
export function hostWatchers(seen: readonly ImageWatchers[], ips: ReadonlySet<string>): { left: { image: string; address: string }[]; unreadable: string[] } {
  const left: { image: string; address: string }[] = [];
  const unreadable: string[] = [];
  for (const s of seen) {
    if ('watchers' in s) {
      for (const w of s.watchers) if (ips.has(addressIp(w.address))) left.push({ image: s.image, address: w.address });
    } else if ('errno' in s) {
      unreadable.push(s.image);
    }
  }
  return { left, unreadable };
}
