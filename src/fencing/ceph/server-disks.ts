import type { AttachedVolume, Server, VolumeApi } from '../../openstack/types.js';
import { errorMessage } from '../../shared/errors.js';
import { mapLimit } from '../../shared/map-limit.js';
import type { CephClient } from './ceph-client.js';
import type { GuestDisk } from '../../compute/types.js';

/** Where a server's disks may be on this Ceph. */
export interface DiskPools {
  /** Nova's `[libvirt] images_rbd_pool`: `<uuid>_disk` and its `_disk.*` siblings. */
  readonly imagesPool: string;
  /** Cinder's `rbd_pool` of each RBD backend on this cluster. */
  readonly volumePools: readonly string[];
  /** This cluster's monitor IPs, when known: a volume whose connection_info names other monitors is on another cluster. */
  readonly monIps?: readonly string[];
}

/** A disk of a server that is not (provably) on this Ceph. */
export interface UncoveredDisk {
  readonly serverId: string;
  readonly serverName: string;
  readonly reason: string;
  /**
   * true: the disk is known to live elsewhere (iSCSI, NFS, another pool or cluster); false: where it lives
   * could not be told (Cinder unreadable, no connection_info), so no proof about that server is complete.
   */
  readonly known: boolean;
}

export interface ServerDisks {
  /** `pool/name` of every RBD image of each server, by server id. */
  readonly imagesOf: ReadonlyMap<string, readonly string[]>;
  readonly uncovered: readonly UncoveredDisk[];
}

/**
 * What the resolver needs of a server; `volumeIds` undefined means "ask Nova". `disks`: every disk as the cloud
 * names it (Cloudpods), which then replaces Nova's naming and Cinder.
 */
export type DiskOwner = Pick<Server, 'id' | 'name'> & Partial<Pick<Server, 'imageId' | 'volumeIds'>> & { readonly disks?: readonly GuestDisk[] };

/** Nova libvirt's rbd names for a server: `<uuid>_disk`, `<uuid>_disk.local`, `.eph0`, `.swap`, `.config`, `.rescue`. */
export function serverImageNames(serverId: string, poolListing: readonly string[]): string[] {
  const base = `${serverId}_disk`;
  return poolListing.filter((n) => n === base || n.startsWith(`${base}.`));
}

/** The IP literals in a `mon_host` value (`v1:198.19.0.1:6789`, `[v2:…:3300/0,v1:…:6789/0]`, `a,b`). */
export function monIpsOf(monHost: string | undefined): string[] {
  if (!monHost) return [];
  const v4 = monHost.match(/\b\d{1,3}(?:\.\d{1,3}){3}\b/g) ?? [];
  const v6 = [...monHost.matchAll(/\[([0-9a-fA-F:]*:[0-9a-fA-F:]*)\]/g)].map((m) => m[1]!.toLowerCase());
  return [...new Set([...v4, ...v6])];
}

type Placed = { readonly ok: true; readonly pool: string; readonly image: string } | { readonly ok: false; readonly reason: string; readonly known: boolean };

/** Where one attached volume lives, by its connection_info alone (the pool listing decides the rest). */
export function placeVolume(v: AttachedVolume, pools: DiskPools): Placed {
  const what = `volume ${v.volumeId}${v.device ? ` (${v.device})` : ''}`;
  if (v.connection === null) return { ok: false, known: false, reason: `${what}: ${v.missing ?? 'no connection_info'}` };
  const c = v.connection;
  if (c.driverVolumeType !== 'rbd') return { ok: false, known: true, reason: `${what} is attached over ${c.driverVolumeType}, not RBD on this Ceph` };
  const m = c.rbdName ? /^([^/\s]+)\/([^/\s]+)$/.exec(c.rbdName) : null;
  if (!m) return { ok: false, known: false, reason: `${what}: its rbd connection_info names no pool/image (data.name ${c.rbdName === undefined ? 'missing' : JSON.stringify(c.rbdName)})` };
  const [, pool, image] = m as unknown as [string, string, string];
  if (pool !== pools.imagesPool && !pools.volumePools.includes(pool)) {
    return { ok: false, known: true, reason: `${what} is ${pool}/${image}, and ${pool} is not one of [ceph] volume_pools (${pools.volumePools.join(', ') || 'none'})` };
  }
  const mons = pools.monIps ?? [];
  const theirs = (c.monHosts ?? []).map((h) => h.replace(/^\[|\]$/g, '').toLowerCase());
  if (mons.length > 0 && theirs.length > 0 && !theirs.some((h) => mons.includes(h))) {
    return { ok: false, known: true, reason: `${what} is ${pool}/${image} on the cluster of monitors ${theirs.join(', ')}, not this one (${mons.join(', ')})` };
  }
  return { ok: true, pool, image };
}

/**
 * Every RBD image of these servers on this Ceph, and each disk that is not on it: the image-backed
 * `<uuid>_disk` family from one pool listing, and each attached volume by the image its attachment's
 * connection_info names (Cinder's `<rbd_pool>/volume-<name_id>`, which after a migration is not the volume
 * id). One librados connection lists every pool involved. Servers whose Nova record lists no volume cost
 * no API call; `volumes` absent leaves their volumes unread (and says so).
 */
export async function resolveServerDisks(
  client: Pick<CephClient, 'listImages'>, pools: DiskPools, owners: readonly DiskOwner[], volumes: VolumeApi | undefined, signal?: AbortSignal,
): Promise<ServerDisks> {
  const imagesOf = new Map<string, string[]>();
  const uncovered: UncoveredDisk[] = [];
  if (owners.length === 0) return { imagesOf, uncovered };
  const off = (s: DiskOwner, reason: string, known: boolean) => uncovered.push({ serverId: s.id, serverName: s.name, reason: `${s.name} (${s.id}): ${reason}`, known });

  const named = owners.filter((s) => s.disks !== undefined);
  const servers = owners.filter((s) => s.disks === undefined);
  if (named.length > 0) {
    const listed = new Set((await client.listImages([pools.imagesPool], signal)).get(pools.imagesPool) ?? []);
    for (const s of named) {
      const names: string[] = [];
      for (const d of s.disks!) {
        if (d.rbdImage === null) off(s, `disk ${d.id} is on ${d.storage || 'unknown'} storage, not RBD on this Ceph`, true);
        else if (!listed.has(d.rbdImage)) off(s, `disk ${d.id} is ${pools.imagesPool}/${d.rbdImage}, which does not exist on this Ceph`, true);
        else names.push(`${pools.imagesPool}/${d.rbdImage}`);
      }
      imagesOf.set(s.id, names);
    }
    if (servers.length === 0) return { imagesOf, uncovered };
  }
  const withVolumes = servers.filter((s) => s.imageId === null || s.volumeIds === undefined || s.volumeIds.length > 0);
  const read = new Map<string, AttachedVolume[]>();
  if (volumes) {
    await mapLimit(withVolumes, 8, async (s) => {
      try {
        read.set(s.id, await volumes.serverVolumes(s.id, signal ? { signal } : {}));
      } catch (err) {
        off(s, `its volumes could not be read: ${errorMessage(err)}`, false);
      }
    });
  } else {
    for (const s of withVolumes) if (s.imageId === null || (s.volumeIds?.length ?? 0) > 0) off(s, 'its attached volumes are not read here', false);
  }

  const placed = new Map<string, { pool: string; image: string; volume: AttachedVolume }[]>();
  for (const s of servers) {
    const list = read.get(s.id) ?? [];
    if (s.imageId === null && read.has(s.id) && list.length === 0) off(s, 'boots from a volume, but Nova lists no attached volume', false);
    for (const v of list) {
      const p = placeVolume(v, pools);
      if (p.ok) placed.set(s.id, [...(placed.get(s.id) ?? []), { pool: p.pool, image: p.image, volume: v }]);
      else off(s, p.reason, p.known);
    }
  }
  const wanted = [...new Set([pools.imagesPool, ...[...placed.values()].flat().map((p) => p.pool)])];
  // A volume pool this cluster lacks lists as empty (its volumes are then named as not here); the images pool must exist.
  const listing = await client.listImages(wanted, signal, { absentAsEmpty: wanted.filter((p) => p !== pools.imagesPool) });
  const inPool = new Map([...listing].map(([pool, names]) => [pool, new Set(names)]));
  const imagePool = listing.get(pools.imagesPool) ?? [];

  for (const s of servers) {
    const names = serverImageNames(s.id, imagePool).map((n) => `${pools.imagesPool}/${n}`);
    // A volume-backed server has no root image; one booted from an image must have `<uuid>_disk` here.
    if (s.imageId !== null && !names.includes(`${pools.imagesPool}/${s.id}_disk`)) {
      off(s, `${pools.imagesPool}/${s.id}_disk does not exist, so its root disk is not on this Ceph`, true);
    }
    for (const p of placed.get(s.id) ?? []) {
      if (inPool.get(p.pool)?.has(p.image)) names.push(`${p.pool}/${p.image}`);
      else off(s, `volume ${p.volume.volumeId}${p.volume.device ? ` (${p.volume.device})` : ''} is ${p.pool}/${p.image}, which does not exist on this Ceph`, true);
    }
    imagesOf.set(s.id, names);
  }
  return { imagesOf, uncovered };
}
