import type { Typed } from '../../config/declare.js';
import type { AnyPowerDeviceType, FenceDeviceType, LevelDeviceType, PowerDeviceType, SettingsOf, StorageDeviceType } from '../device.js';
import { cephDevice } from './ceph.js';
import { commandDevice } from './command.js';
import { ipmiDevice } from './ipmi.js';
import { kdumpDevice } from './kdump.js';
import { noopDevice } from './noop.js';
import { redfishDevice } from './redfish.js';

/**
 * Every fence device type cmpha knows, one line each. The config's `driver` values and per-device keys,
 * `fence_levels`, the fence step, `cmpha fence status`, `doctor` and `config validate` derive from this list.
 */
export const FENCE_DEVICE_TYPES = [
  ipmiDevice,
  redfishDevice,
  noopDevice,
  commandDevice,
  cephDevice,
  kdumpDevice,
] as const;

type Registered = (typeof FENCE_DEVICE_TYPES)[number];
type PowerTypes = Extract<Registered, { readonly role: 'power' }>;

/** Every device name `fence_levels` may use. */
export type FenceDeviceName = Registered['name'];
/** Every value `driver` may take besides `none`: the power devices. */
export type PowerDeviceName = PowerTypes['name'];
export type StorageDeviceName = Extract<Registered, { readonly role: 'storage' }>['name'];

/** A host's power device as the config holds it: `driver` and that type's settings. */
export type PowerDeviceConfig = { [T in PowerTypes as T['name']]: { readonly driver: T['name'] } & SettingsOf<T> }[PowerDeviceName];

/** Each type's own keys, as the host section holds them (`host.ipmi`, `host.redfish`, ...). */
export type DeviceKeysOf = { readonly [T in Registered as T['name']]: Typed<T['keys']> };

export const FENCE_DEVICE_NAMES: readonly FenceDeviceName[] = FENCE_DEVICE_TYPES.map((t) => t.name);
export const POWER_DEVICE_NAMES: readonly PowerDeviceName[] = FENCE_DEVICE_TYPES.filter(isPower).map((t) => t.name as PowerDeviceName);

function isPower(t: FenceDeviceType): t is AnyPowerDeviceType {
  return t.role === 'power';
}

/** The type named, or undefined for a name no device has (`none`, a typo). */
export function fenceDeviceType(name: string): FenceDeviceType | undefined {
  return (FENCE_DEVICE_TYPES as readonly FenceDeviceType[]).find((t) => t.name === name);
}

/** The power device type named (a host's `driver`), or undefined for `none` and storage devices. */
export function powerDeviceType(name: string): AnyPowerDeviceType | undefined {
  const t = fenceDeviceType(name);
  return t && isPower(t) ? t : undefined;
}

export function storageDeviceType(name: string): StorageDeviceType | undefined {
  const t = fenceDeviceType(name);
  return t && t.role === 'storage' ? t as StorageDeviceType : undefined;
}

/** A device type a level may name that is not a host's `driver` (storage fences, witnesses), or undefined. */
export function levelDeviceType(name: string): LevelDeviceType | undefined {
  const t = fenceDeviceType(name);
  return t && t.role !== 'power' ? t : undefined;
}

/** A device that cuts nothing (noop): said loudly everywhere, refused without allow_unfenced_evacuation. */
export function isUnfencedDevice(name: string): boolean {
  return powerDeviceType(name)?.unfenced === true;
}

export type { PowerDeviceType };
