export { evacuateServer, isStillInUse, evacuationsFrom, OUTCOME_UNKNOWN } from './evacuate-server.js';
export { verifyServer, judge } from './verify-server.js';
export { planInstances, priorityOf, skipReason, byPriority } from './select.js';
export { planSpares, freeCapacity, isReservedSpare } from './spare-plan.js';
export type { SpareCandidate, SparePlan, Need } from './spare-plan.js';
export { openGate, TERMINAL_MIGRATION, SUCCESS_MIGRATION } from './types.js';
export type { EvacuatorDeps, StartGate } from './types.js';
export { recoverServer } from './recover-server.js';
