import { fenceHost as realFenceHost } from '../fencing/fence-host.js';
import type { IncidentStore } from '../incidents/incident-store.js';
import type { Logger } from '../shared/logger.js';
import { sleep, type Clock } from '../shared/time.js';
import type { QueueTimings } from './queue-timings.js';
import type { RedisStartGate } from './rate-gate.js';
import type { RecoveryDeps } from './recovery-deps.js';
import type { StepContext } from './steps/context.js';

export interface StepEnv {
  readonly store: IncidentStore;
  readonly gate: RedisStartGate;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly signal: AbortSignal;
  readonly timings: QueueTimings;
}

/** What every pipeline step of one incident gets. */
export function stepContextFactory(deps: RecoveryDeps, env: StepEnv): (incidentId: string) => StepContext {
  const { config } = deps;
  const { gate, logger, clock, signal, timings: t } = env;
  // A recovery writes only while this controller leads, and nothing into an incident once it is closed.
  const store = env.store.forRecovery(deps.leadership);
  return (incidentId) => ({
    incidentId, store, compute: deps.compute,
    ...(config.evacuation.verifyNetwork !== false && deps.compute.ports ? { ports: deps.compute.ports } : {}),
    ...(config.evacuation.verifyNetwork !== false && deps.probe ? { probe: deps.probe } : {}),
    evacuation: config.evacuation, ...(deps.sparesFor ? { sparesFor: deps.sparesFor } : {}), fencing: config.fencing, notifier: deps.notifier, isHostAlive: deps.isHostAlive,
    fenceDriverFor: deps.fenceDriverFor, fenceHost: deps.fenceHost ?? realFenceHost, gate,
    ...(deps.fencePlanFor ? { fencePlanFor: deps.fencePlanFor } : {}), ...(deps.refreshFencing ? { refreshFencing: deps.refreshFencing } : {}),
    ...(deps.fenceLevels ? { fenceLevels: deps.fenceLevels } : {}),
    ...(deps.singleWriter ? { singleWriter: deps.singleWriter } : {}),
    ...(deps.leadership ? { leadership: deps.leadership } : {}),
    logger: logger.child({ incidentId }), clock, sleep, metrics: deps.metrics, signal,
    ...(t.unknownSettleMs !== undefined ? { unknownSettleMs: t.unknownSettleMs } : {}),
  });
}
