export type { FenceDriver, FenceEvent, FenceResult, PowerReading, PowerState } from './types.js';
export { FenceCode, type FenceCodeValue } from './codes.js';
export { createFenceDriver, type FenceDriverDeps } from './create-driver.js';
export { fenceHost, type FenceHostOptions } from './fence-host.js';
export { checkAllFencing, checkHostFencing, NOT_FENCEABLE, type HostFenceStatus } from './check-fencing.js';
export { IpmiDriver, type IpmiDriverOptions } from './ipmi-driver.js';
export { RedfishDriver, type RedfishDriverOptions } from './redfish-driver.js';
export { NoopDriver } from './noop-driver.js';
