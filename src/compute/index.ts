export type {
  Arrival, CallOptions, CloudFinding, ComputeBackend, ComputeHost, Guest, GuestAddress, GuestPort, HeartbeatSource, HostCapacity, HostMarker,
  LiveMoveState, MoveState,
} from './types.js';
export { MOVE_OUTCOME_UNKNOWN, SOURCE_IN_USE } from './types.js';
export { hostNamed } from './hosts.js';
