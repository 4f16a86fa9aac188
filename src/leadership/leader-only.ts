import type { FenceDriver } from '../fencing/types.js';
import type { NovaApi } from '../openstack/types.js';
import type { RegionApi } from '../openstack/cloudpods.js';
import type { Leadership } from './leadership.js';

/** Runs `call` only after Redis confirms this process still leads (with its epoch); throws `deposed` otherwise. */
async function whileLeading<T>(leadership: Leadership, signal: AbortSignal | undefined, call: () => Promise<T>): Promise<T> {
  await leadership.assertLeading(signal);
  return call();
}

/**
 * The Nova client the recovery workers get: every call that changes Nova (service updates, aggregate
 * membership, evacuate, live migration, reboot, reset-state, lock, unlock, stop/pause/suspend) first checks, in Redis, that this process still holds the leader
 * lease with its epoch. Reads pass untouched. A deposed leader's worker therefore cannot act on Nova, from
 * any step, whatever path led it there.
 */
export function leaderOnlyNova(nova: NovaApi, leadership: Leadership): NovaApi {
  return {
    microversion: (opts) => nova.microversion(opts),
    listComputeServices: (opts) => nova.listComputeServices(opts),
    ...(nova.listServices ? { listServices: (binary: string, opts?: Parameters<NonNullable<NovaApi['listServices']>>[1]) => nova.listServices!(binary, opts) } : {}),
    listHypervisors: (opts) => nova.listHypervisors(opts),
    listAggregates: (opts) => nova.listAggregates(opts),
    listServerGroups: (opts) => nova.listServerGroups(opts),
    listServersOnHost: (host, opts) => nova.listServersOnHost(host, opts),
    listServersChangedSince: (since, opts) => nova.listServersChangedSince(since, opts),
    getServer: (id, opts) => nova.getServer(id, opts),
    listMigrations: (filter, opts) => nova.listMigrations(filter, opts),
    listLockedServers: (opts) => nova.listLockedServers(opts),
    updateService: (id, update, opts) => whileLeading(leadership, opts?.signal, () => nova.updateService(id, update, opts)),
    addHostToAggregate: (aggregateId, host, opts) => whileLeading(leadership, opts?.signal, () => nova.addHostToAggregate(aggregateId, host, opts)),
    evacuate: (id, target, opts) => whileLeading(leadership, opts?.signal, () => nova.evacuate(id, target, opts)),
    liveMigrate: (id, target, opts) => whileLeading(leadership, opts?.signal, () => nova.liveMigrate(id, target, opts)),
    reboot: (id, type, opts) => whileLeading(leadership, opts?.signal, () => nova.reboot(id, type, opts)),
    resetState: (id, state, opts) => whileLeading(leadership, opts?.signal, () => nova.resetState(id, state, opts)),
    lock: (id, reason, opts) => whileLeading(leadership, opts?.signal, () => nova.lock(id, reason, opts)),
    unlock: (id, opts) => whileLeading(leadership, opts?.signal, () => nova.unlock(id, opts)),
    powerAction: (id, action, opts) => whileLeading(leadership, opts?.signal, () => nova.powerAction(id, action, opts)),
  };
}

/** The same for a Cloudpods region: host actions, migrations and restarts only while leading; reads pass. */
export function leaderOnlyRegion(region: RegionApi, leadership: Leadership): RegionApi {
  return {
    listHosts: (opts) => region.listHosts(opts),
    listGuests: (filter, opts) => region.listGuests(filter, opts),
    getGuest: (id, opts) => region.getGuest(id, opts),
    hostAction: (id, action, body, opts) => whileLeading(leadership, opts?.signal, () => region.hostAction(id, action, body, opts)),
    migrate: (id, input, opts) => whileLeading(leadership, opts?.signal, () => region.migrate(id, input, opts)),
    liveMigrate: (id, target, opts) => whileLeading(leadership, opts?.signal, () => region.liveMigrate(id, target, opts)),
    restart: (id, opts) => whileLeading(leadership, opts?.signal, () => region.restart(id, opts)),
    stop: (id, opts) => whileLeading(leadership, opts?.signal, () => region.stop(id, opts)),
  };
}

/** The same for a BMC: power changes only while leading; status reads pass. */
export function leaderOnlyFenceDriver(driver: FenceDriver, leadership: Leadership): FenceDriver {
  return {
    kind: driver.kind,
    target: driver.target,
    powerStatus: (signal) => driver.powerStatus(signal),
    ...(driver.readPower ? { readPower: (signal: AbortSignal) => driver.readPower!(signal) } : {}),
    powerOff: (signal) => whileLeading(leadership, signal, () => driver.powerOff(signal)),
    powerOn: (signal) => whileLeading(leadership, signal, () => driver.powerOn(signal)),
  };
}
