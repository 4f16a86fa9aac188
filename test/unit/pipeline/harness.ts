import { Redis } from 'ioredis';
import type { EvacuationConfig, FencingConfig } from '../../../src/config/types.js';
import { openGate } from '../../../src/evacuator/types.js';
import { fenceHost } from '../../../src/fencing/fence-host.js';
import type { FenceDriver, PowerState } from '../../../src/fencing/types.js';
import { IncidentStore } from '../../../src/incidents/incident-store.js';
import type { DeliveryRecord, NotificationEvent, NotificationService } from '../../../src/notifier/types.js';
import type { StepContext } from '../../../src/pipeline/steps/context.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { systemClock } from '../../../src/shared/time.js';
import { RecordingNova } from '../../helpers/recording-nova.js';
import { computeOf } from '../../helpers/compute.js';

export const evacuationDefaults: EvacuationConfig = {
  states: ['ACTIVE', 'ERROR'], concurrency: 4, staggerMs: 0, maxPerMinute: 1000, verifyTimeoutMs: 5000,
  verifyPollIntervalMs: 10, spareHosts: [], spareReasonPrefix: 'down_prepare', spareAddToAggregates: false,
  spareCount: 1, disabledReasonPrefix: 'cmpha',
};
export const fencingDefaults: FencingConfig = { timeoutMs: 2000, pollIntervalMs: 10, allowUnfencedEvacuation: false, ipmitoolPath: 'ipmitool', attempts: 2 };

/** A BMC in memory that logs into the same call list as the fake Nova, so tests can assert fence-before-evacuate. */
export class FakeBmc implements FenceDriver {
  readonly kind: 'redfish' | 'noop';
  readonly target = 'bmc.test';
  state: PowerState = 'on';
  /** 'ok' | 'stuck' (power-off accepted but stays on) | 'error' (every call fails). */
  mode: 'ok' | 'stuck' | 'error' = 'ok';
  constructor(private readonly nova: RecordingNova, kind: 'redfish' | 'noop' = 'redfish') { this.kind = kind; }
  async powerStatus(): Promise<PowerState> {
    if (this.mode === 'error') throw new Error('BMC unreachable');
    this.nova.calls.push({ method: 'fence:status', args: [this.state] });
    return this.kind === 'noop' ? 'off' : this.state;
  }
  async powerOff(): Promise<void> {
    if (this.mode === 'error') throw new Error('BMC unreachable');
    this.nova.calls.push({ method: 'fence:powerOff', args: [] });
    if (this.mode === 'ok') this.state = 'off';
  }
  async powerOn(): Promise<void> {
    this.nova.calls.push({ method: 'fence:powerOn', args: [] });
    this.state = 'on';
  }
}

export class RecordingNotifier implements NotificationService {
  readonly events: NotificationEvent[] = [];
  async notify(event: NotificationEvent): Promise<readonly DeliveryRecord[]> {
    this.events.push(event);
    return [{ channel: 'test', recipient: 'ops', event: event.type, ok: true, at: event.at, attempts: 1 }];
  }
}

export interface Harness {
  readonly nova: RecordingNova;
  readonly store: IncidentStore;
  /** The one context every step runs on: fenceDriverFor gives `bmc`, isHostAlive answers `live.alive`. */
  readonly ctx: StepContext;
  readonly bmc: FakeBmc;
  readonly notifier: RecordingNotifier;
  readonly live: { alive: boolean };
}

let counter = 0;

export function makeHarness(redis: Redis, opts: { evacuation?: Partial<EvacuationConfig>; fencing?: Partial<FencingConfig>; incidentId?: string } = {}): Harness {
  const prefix = `t${process.pid}-${++counter}`;
  const nova = new RecordingNova();
  const store = new IncidentStore(redis, prefix);
  const evacuation = { ...evacuationDefaults, ...opts.evacuation };
  const bmc = new FakeBmc(nova);
  const notifier = new RecordingNotifier();
  const live = { alive: false };
  const ctx: StepContext = {
    incidentId: opts.incidentId ?? 'inc-1', store: store.forRecovery(), compute: computeOf(nova, { reasonPrefix: evacuation.disabledReasonPrefix, spareReasonPrefix: evacuation.spareReasonPrefix }), evacuation, fencing: { ...fencingDefaults, ...opts.fencing },
    notifier, isHostAlive: async () => live.alive, fenceDriverFor: () => bmc, fenceHost, gate: openGate,
    logger: silentLogger, clock: systemClock, sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, Math.min(ms, 5))),
    unknownSettleMs: 50, inUseRetries: 3,
  };
  return { nova, store, ctx, bmc, notifier, live };
}

export function newRedis(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null });
}
