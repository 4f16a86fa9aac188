import type { FenceDriver } from '../fencing/types.js';
import type { NovaApi } from '../openstack/types.js';
import type { Leadership } from '../incidents/fence-guard.js';

/**
 * The Nova client the recovery workers get: every call that changes Nova (service updates, aggregate
 * membership, evacuate, live migration, reboot) first checks, in Redis, that this process still holds the leader
 * lease with its epoch. Reads pass untouched. A deposed leader's worker therefore cannot act on Nova, from
 * any step, whatever path led it there.
 */
export function leaderOnlyNova(nova: NovaApi, leadership: Leadership): NovaApi {
  return {
    microversion: (opts) => nova.microversion(opts),
    listComputeServices: (opts) => nova.listComputeServices(opts),
    listHypervisors: (opts) => nova.listHypervisors(opts),
    listAggregates: (opts) => nova.listAggregates(opts),
    listServersOnHost: (host, opts) => nova.listServersOnHost(host, opts),
    listServersChangedSince: (since, opts) => nova.listServersChangedSince(since, opts),
    getServer: (id, opts) => nova.getServer(id, opts),
    listMigrations: (filter, opts) => nova.listMigrations(filter, opts),
    async updateService(id, update, opts) {
      await leadership.assertLeading(opts?.signal);
      return nova.updateService(id, update, opts);
    },
    async addHostToAggregate(aggregateId, host, opts) {
      await leadership.assertLeading(opts?.signal);
      return nova.addHostToAggregate(aggregateId, host, opts);
    },
    async evacuate(id, target, opts) {
      await leadership.assertLeading(opts?.signal);
      return nova.evacuate(id, target, opts);
    },
    async liveMigrate(id, target, opts) {
      await leadership.assertLeading(opts?.signal);
      return nova.liveMigrate(id, target, opts);
    },
    async reboot(id, type, opts) {
      await leadership.assertLeading(opts?.signal);
      return nova.reboot(id, type, opts);
    },
  };
}

/** The same for a BMC: power changes only while leading; status reads pass. */
export function leaderOnlyFenceDriver(driver: FenceDriver, leadership: Leadership): FenceDriver {
  return {
    kind: driver.kind,
    target: driver.target,
    powerStatus: (signal) => driver.powerStatus(signal),
    ...(driver.readPower ? { readPower: (signal: AbortSignal) => driver.readPower!(signal) } : {}),
    async powerOff(signal) {
      await leadership.assertLeading(signal);
      return driver.powerOff(signal);
    },
    async powerOn(signal) {
      await leadership.assertLeading(signal);
      return driver.powerOn(signal);
    },
  };
}
