import type { RegionGuest } from '../../openstack/cloudpods.js';
import type { Arrival, Guest, GuestAddress, LiveMoveState, MoveState } from '../types.js';

// A Cloudpods guest in the recovery's words, and where a move of it stands. Pure: the adapter reads the region,
// these judge. Statuses are those of yunionio/cloudpods pkg/apis/compute/guest_const.go.

/** A migration task of the region runs on the guest (GuestMigrateTask: start_migrate, then migrating unless it was running). */
const MOVING = new Set(['start_migrate', 'migrating', 'live_migrating']);
const FAILED = new Set(['migrate_failed', 'live_migrate_failed']);
/** A start or a stop the region runs on the guest (GuestStartTask: starting; GuestStopTask: start_stop, stopping). */
const BUSY = new Set(['starting', 'start_stop', 'stopping']);

/**
 * The port's status word for a Cloudpods status, so the evacuation policy (`[evacuation] states`, ACTIVE and ERROR
 * by default) reads the same on both clouds; `vmState` keeps the region's own word for operators.
 * - running, and unknown: the region marks every guest of an offline host unknown (MarkGuestUnknown,
 *   pkg/compute/models/hosts.go) and itself moves all but ready/suspend ones off a dead host
 *   (MigrateSharedStorageServers, isNotRunningStatus): ACTIVE.
 * - a migration under way: REBUILD, the port's word for a move away from a dead host being followed to its end.
 * - migrate_failed: ERROR (the guest stays on its host; a new migrate is no blind repeat).
 */
export function statusWord(status: string): string {
  if (status === 'running' || status === 'unknown' || status === 'starting') return 'ACTIVE';
  if (MOVING.has(status)) return 'REBUILD';
  if (FAILED.has(status)) return 'ERROR';
  if (status === 'ready') return 'SHUTOFF';
  if (status === 'suspend') return 'SUSPENDED';
  return status.toUpperCase();
}

function addressesOf(g: RegionGuest): GuestAddress[] {
  const out: GuestAddress[] = [];
  for (const n of g.nics) {
    if (n.ip) out.push({ network: n.networkId, addr: n.ip, version: 4, type: 'fixed' });
    if (n.ip6) out.push({ network: n.networkId, addr: n.ip6, version: 6, type: 'fixed' });
  }
  if (g.eip) out.push({ network: 'eip', addr: g.eip, version: g.eip.includes(':') ? 6 : 4, type: 'floating' });
  return out;
}

export function guestOf(g: RegionGuest): Guest {
  return {
    id: g.id, name: g.name, status: statusWord(g.status),
    // The task the region runs on it: a migration, the start that ends a rescue-mode one, or a stop.
    taskState: MOVING.has(g.status) || BUSY.has(g.status) ? g.status : null,
    vmState: g.status, host: g.host, addresses: addressesOf(g), metadata: g.metadata,
    // Cloudpods guests belong to a project, not to a user.
    userId: '', projectId: g.projectId,
    flavor: { ...(g.vcpuCount !== undefined ? { vcpus: g.vcpuCount } : {}), ...(g.vmemSize !== undefined ? { ramMb: g.vmemSize } : {}) },
    ...(g.updatedAt ? { updatedAt: g.updatedAt } : {}),
    // An RBD disk's image is named by the disk's id (SRbdStorage.getDiskPath: rbd:<pool>/<disk id>,
    // pkg/hostman/storageman/storage_rbd.go); the pool is the region's RBD storage's, which cmpha is told in [ceph].
    ...(g.disks ? { disks: g.disks.map((d) => ({ id: d.id, storage: d.storageType, rbdImage: d.storageType === 'rbd' && d.id !== '' ? d.id : null })) } : {}),
  };
}

/**
 * Before a migrate is sent. The region accepts a second rescue-mode migrate while one runs (no guest status is
 * checked: SKVMGuestDriver.CheckMigrate), so a migration under way must be seen here: StartMigrateTask sets
 * start_migrate before the POST answers. A host other than the source is believed only when the region lists it.
 */
export function inspectMove(g: RegionGuest, source: string, hosts: ReadonlySet<string> | null): MoveState {
  if (g.host !== null && g.host !== source) {
    if (hosts?.has(g.host)) return { kind: 'done', why: `already left ${source} (now on ${g.host})` };
    return { kind: 'busy', why: `the region names host ${JSON.stringify(g.host)}, ${hosts ? 'which is not a host it lists' : 'and its host list could not be read'}; cannot tell where the guest runs` };
  }
  if (MOVING.has(g.status)) return { kind: 'in-flight', why: `a migration is already under way (status ${g.status})` };
  return { kind: 'none' };
}

/**
 * After a migrate was accepted: arrived once the guest is running on another host the region lists (a rescue-mode
 * migration ends with GuestStartTask on the target: unknown → starting → running), or ready there when the
 * recovery expects it stopped (`expect` SHUTOFF); failed once the task ended in
 * migrate_failed with the guest still on the source (nothing was moved, so another try is no blind repeat).
 */
export function judgeArrival(g: RegionGuest | null, source: string, hosts: ReadonlySet<string> | null, expect: 'ACTIVE' | 'SHUTOFF' = 'ACTIVE'): Arrival {
  if (g === null) return { kind: 'gone' };
  const moved = g.host !== null && g.host !== source;
  if (!moved) {
    if (FAILED.has(g.status)) return { kind: 'failed', why: `migration ended ${g.status} on ${source}`, noRoom: true };
    return { kind: 'waiting', why: `still on ${source} (status ${g.status})` };
  }
  if (g.status !== (expect === 'SHUTOFF' ? 'ready' : 'running')) {
    if (FAILED.has(g.status)) return { kind: 'failed', why: `${g.status} on ${g.host}` };
    return { kind: 'waiting', why: `on ${g.host}, status ${g.status}` };
  }
  if (hosts === null) return { kind: 'waiting', why: `cannot verify: the region names host ${g.host} but its host list could not be read` };
  if (!hosts.has(g.host!)) return { kind: 'waiting', why: `cannot verify: the region names host ${JSON.stringify(g.host)}, which is not a host it lists` };
  return { kind: 'arrived', host: g.host! };
}

/** A live migration (planned maintenance) away from `source`. */
export function judgeLiveMove(g: RegionGuest | null, source: string): LiveMoveState {
  if (g === null) return { kind: 'gone' };
  if (g.host !== null && g.host !== source && g.status === 'running') return { kind: 'arrived', host: g.host };
  if (g.host === source && FAILED.has(g.status)) return { kind: 'stopped', host: g.host, why: `live migration ended ${g.status}`, final: true };
  return { kind: 'waiting', host: g.host, why: `status ${g.status}` };
}
