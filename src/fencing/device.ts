import type { Decls, Typed } from '../config/declare.js';
import type { Secret } from '../config/secret.js';
import type { Server, VolumeApi } from '../openstack/types.js';
import type { Logger } from '../shared/logger.js';
import type { OutgoingProxy } from '../shared/outgoing-proxy.js';
import type { CommandRunner } from '../shared/run-command.js';
import type { BlocklistState } from './ceph/ceph-client.js';
import type { CephStorageFence, StorageEvidence } from './ceph/storage-fence.js';
import type { KdumpWatch } from './kdump/listener.js';
import type { FenceDriver, FenceEvent, FenceHostOptions, FenceResult, PowerState } from './types.js';

// The one shape every fence device has, and the one shape every device TYPE has. A device type is one file in
// src/fencing/devices/ and one line in devices/registry.ts: the config's `driver` values and per-device keys,
// `fence_levels`, the fence step, `cmpha fence status` and `doctor` all read the registry.

export interface DeviceFenceOptions extends FenceHostOptions {
  /** The device is its level's only one: it must cut off every writer of the host by itself. */
  readonly alone: boolean;
}

export type DeviceResult =
  | { readonly ok: true; readonly alreadyOff: boolean; readonly unfenced: boolean; readonly poweredOff: boolean; readonly detail: string; readonly evidence?: StorageEvidence }
  | { readonly ok: false; readonly code: string; readonly reason: string; readonly lastState?: PowerState; readonly evidence?: StorageEvidence };

/** What a read-only look at a device found: for `cmpha fence status`, `doctor` and the power watch. */
export interface DeviceAnswer {
  readonly device: string;
  /** It answered a read-only question just now (a refused password is no answer). */
  readonly answers: boolean;
  /** The power state read, the osdmap epoch, or why it did not answer. */
  readonly detail: string;
  /** Power devices: the state read. */
  readonly power?: PowerState;
  /** The error code when it did not answer. */
  readonly code?: string;
  /** Power devices: whether anything answered at all (a refused password is an answer). */
  readonly reachable?: boolean;
  /** The failure may pass when asked again (unreachable, busy, timeout). */
  readonly retryable?: boolean;
}

/** One way to cut a host off: its power (a BMC, a PDU) or its storage (a blocklist). fence never throws. */
export interface FenceDevice {
  /** The device type's name in the registry (`ipmi`, `ceph`, ...). */
  readonly kind: string;
  /** Where it acts, for messages (never credentials). */
  readonly target: string;
  /** Power devices only: the switch itself (status, off, on), for the power watch and `host restore --power-on`. */
  readonly power?: FenceDriver;
  /** Cuts the host off and proves it (the power reads back off; the osdmap lists the host and no watcher is left). */
  fence(opts: DeviceFenceOptions, emit: (e: Omit<FenceEvent, 'at'>) => void): Promise<DeviceResult>;
  /** Reads the state without changing anything. Never throws. */
  read(signal: AbortSignal): Promise<DeviceAnswer>;
  /** Undoes the fence (power on, blocklist removal), where the device can. */
  unfence?(signal: AbortSignal): Promise<void>;
}

/** The host's keys a power device may read, whatever its type: the BMC (or PDU) address and credentials. */
export interface DeviceHostKeys {
  readonly address?: string;
  readonly port?: number;
  readonly username?: string;
  readonly password?: Secret;
}

/** What building a device needs beyond the host's own settings. Nothing here comes from config/types (no cycle). */
export interface DeviceEnv {
  readonly host: string;
  readonly storageIps: readonly string[];
  readonly ipmitoolPath: string;
  readonly proxy?: OutgoingProxy;
  readonly logger?: Logger;
  /** Runs child processes (ipmitool, an operator's fence command); defaults to the shared runCommand. */
  readonly runner?: CommandRunner;
  /** Reads a file the settings name (redfish_cacert); defaults to the file system. */
  readonly readFile?: (path: string) => string;
  readonly redfishRequestTimeoutMs?: number;
  /** The storage fence of the configured Ceph, when there is one. */
  readonly storageFence?: CephStorageFence;
  /** The servers on the host (the storage device's images). */
  readonly servers?: (signal?: AbortSignal) => Promise<readonly Server[]>;
  readonly volumes?: VolumeApi;
  /** One `osd dump` shared by every host of one check. */
  readonly osdDump?: () => Promise<BlocklistState>;
  /** src/fencing's fenceHost unless a test replaces it. */
  readonly fenceHost?: (d: FenceDriver, o: FenceHostOptions) => Promise<FenceResult>;
  /** The host's own addresses in the config (mgmt_ip, storage_ips, tunnel_ip): how a fence_kdump sender is known. */
  readonly addresses?: readonly string[];
  /** The fence_kdump listener and its timings, where [kdump] is enabled. */
  readonly kdump?: KdumpEnv;
}

/** The fence_kdump listener of this process and the [kdump] timings the device and the power wrapper use. */
export interface KdumpEnv {
  readonly watch: KdumpWatch;
  /** How long the kdump device waits for a message (fence_kdump's timeout). */
  readonly waitMs: number;
  /** No message for this long: the crash kernel stopped sending (the dump is written, or it rebooted). */
  readonly quietAfterMs: number;
  /** How long a power-off waits at most for the messages to stop. */
  readonly maxDumpWaitMs: number;
  readonly pollMs: number;
}

/** A host's situation as far as a device type's availability goes. */
export interface LevelContext {
  /** The host's `driver` (its power device), or 'none'. */
  readonly driver: string;
  readonly cephConfigured: boolean;
  readonly storageIps: readonly string[];
  /** [kdump] is enabled: this process listens for fence_kdump messages. */
  readonly kdumpConfigured?: boolean;
  /** The host's addresses in the config (mgmt_ip, storage_ips, tunnel_ip). */
  readonly addresses?: readonly string[];
}

interface DeviceTypeBase<N extends string, K extends Decls> {
  readonly name: N;
  /** One line for the `driver` key's help and the docs. */
  readonly summary: string;
  /** Its own `[host:NAME]` keys (also allowed in [host_defaults] and pattern sections). */
  readonly keys: K;
}

/**
 * A power device type: chosen by a host's `driver = NAME`; it provides a switch (status, off, on) and the
 * fence is the common one (src/fencing/fence-host.ts): power off, then only a fresh reading of `off` counts.
 */
export interface PowerDeviceType<N extends string = string, K extends Decls = Decls, S = unknown> extends DeviceTypeBase<N, K> {
  readonly role: 'power';
  /** Cuts nothing (noop): incidents and `doctor` say so loudly, and it is refused without allow_unfenced_evacuation. */
  readonly unfenced?: boolean;
  /**
   * Its power status is the device's own reading of the chassis, cheap to ask (a BMC): the detector may read it,
   * rate-limited, for hosts under suspicion ([detector] bmc_power_read). Not an operator's command or a noop.
   */
  readonly witness?: boolean;
  /**
   * The host's settings for this device from its merged section, or undefined after reporting each problem
   * against its key. `own` holds this type's keys.
   */
  settings(host: DeviceHostKeys, own: Typed<K>, report: (key: string, message: string) => void): S | undefined;
  /** Where the device is (address:port), for `cmpha fence status`; undefined when it has no address. */
  where(settings: S): string | undefined;
  /** `config validate`'s effective settings: INI key → value shown (secrets masked by the caller). */
  shown(settings: S): Readonly<Record<string, string | Secret | undefined>>;
  /** The switch; throws fence_config_invalid for settings that cannot work (a name instead of an IP for ipmitool). */
  switch(settings: S, env: DeviceEnv): FenceDriver;
}

/**
 * A device type available to a host's `fence_levels` from the cluster's config, not chosen by `driver`: a
 * storage fence (`storage`: it cuts the host's disks off, and also runs after a power-off level), or a witness
 * (`witness`: it proves the host stopped by itself, e.g. its crash kernel says so, and cuts nothing).
 */
export interface LevelDeviceType<N extends string = string, K extends Decls = Decls> extends DeviceTypeBase<N, K> {
  readonly role: 'storage' | 'witness';
  /** Why this host cannot use the device in a level, or undefined when it can. */
  unavailable(host: LevelContext): string | undefined;
  /** The device for one host; undefined when the environment lacks what it needs (no storage fence given). */
  device(env: DeviceEnv): FenceDevice | undefined;
  /** The read-only check of `fence status` and `doctor`, without building the device when it cannot be. */
  check(env: DeviceEnv, signal?: AbortSignal): Promise<DeviceAnswer>;
}

// Settings are each type's own; the registry holds them erased.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyPowerDeviceType = PowerDeviceType<string, Decls, any>;
export type FenceDeviceType = AnyPowerDeviceType | LevelDeviceType;

/** A storage fence's type (ceph). */
export type StorageDeviceType<N extends string = string, K extends Decls = Decls> = LevelDeviceType<N, K> & { readonly role: 'storage' };

/** The settings a power device type makes of a host's section. */
export type SettingsOf<T> = T extends PowerDeviceType<string, Decls, infer S> ? S : never;
