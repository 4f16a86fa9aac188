import type { EvacuationConfig } from '../config/types.js';
import type { IncidentStore } from '../incidents/incident-store.js';
import type { NovaApi } from '../openstack/types.js';
import type { Logger } from '../shared/logger.js';
import type { Clock } from '../shared/time.js';
import type { EvacuationMetrics } from './metrics.js';

/** An admitted evacuate start; `settle` is called once the POST has gone out (whatever its outcome). */
export interface StartSlot {
  settle(): Promise<void>;
}

/** Admits evacuate POSTs: a global rate limit plus a stagger between starts of one incident. */
export interface StartGate {
  acquire(incidentId: string, signal?: AbortSignal): Promise<StartSlot>;
}

export const openGate: StartGate = { acquire: async () => ({ settle: async () => {} }) };

export interface EvacuatorDeps {
  readonly nova: NovaApi;
  readonly store: IncidentStore;
  readonly config: EvacuationConfig;
  readonly gate: StartGate;
  /** Re-asserts forced_down, then the disable, on the source host (Nova said "still in use"). */
  readonly forceDown: () => Promise<void>;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly metrics?: EvacuationMetrics;
  /**
   * After an evacuate POST whose outcome is unknown (timeout, 5xx, crash), Nova is re-read for this
   * long before concluding the POST did not take and sending another.
   */
  readonly unknownSettleMs?: number;
  /** How many times "Compute service of HOST is still in use." is answered by forcing down again. */
  readonly inUseRetries?: number;
}

/** Evacuation migration statuses after which nothing more happens. */
export const TERMINAL_MIGRATION = new Set(['done', 'completed', 'error', 'failed', 'cancelled']);
export const SUCCESS_MIGRATION = new Set(['done', 'completed']);
