import type { Clock } from '../shared/time.js';

export type PowerState = 'on' | 'off' | 'unknown';

/** A power reading with the BMC's own words, so an `unknown` can say what the BMC actually answered. */
export interface PowerReading {
  readonly state: PowerState;
  /** What the BMC answered, trimmed and short; never contains credentials. */
  readonly raw: string;
}

/**
 * One power switch (a BMC, a PDU, an operator's command). Drivers never throw for a readable "unknown": they
 * return it; they throw CmphaError for failures.
 */
export interface FenceDriver {
  /** Its device type's name (src/fencing/devices/registry.ts). */
  readonly kind: string;
  /** Where the switch is, for messages (never credentials). */
  readonly target: string;
  powerStatus(signal: AbortSignal): Promise<PowerState>;
  /** Idempotent: powering off a host that is off is not an error. */
  powerOff(signal: AbortSignal): Promise<void>;
  powerOn(signal: AbortSignal): Promise<void>;
  /** Optional richer form of powerStatus; the fence step prefers it so the timeline shows the BMC's answer. */
  readPower?(signal: AbortSignal): Promise<PowerReading>;
}

/** A fact the fence step records on the incident timeline. */
export interface FenceEvent {
  readonly at: number;
  readonly kind: 'status' | 'power-off' | 'error' | 'level' | 'blocklist' | 'wait';
  readonly detail: string;
  /** The state read, for `status` events. */
  readonly state?: PowerState;
  /** The error code, for `error` events. */
  readonly code?: string;
  /** Which try of this BMC call (1-based), for `power-off` and `error` events. */
  readonly attempt?: number;
  /** Set on the events fenceLevels writes about a level (not on a device's own events). */
  readonly fenceLevel?: number;
}

export type FenceResult =
  | { readonly ok: true; readonly state: 'off'; readonly alreadyOff: boolean; readonly unfenced: boolean; readonly durationMs: number; readonly events: readonly FenceEvent[] }
  | { readonly ok: false; readonly code: string; readonly reason: string; readonly lastState: PowerState; readonly durationMs: number; readonly events: readonly FenceEvent[] };

export interface FenceHostOptions {
  /** The whole step: from the first status read to the power reading back off. */
  readonly timeoutMs: number;
  /** Pause between status reads after the power-off, and between tries of a call that failed transiently. */
  readonly pollIntervalMs: number;
  /** How many times one BMC call is tried when it fails with a retryable error (unreachable, busy, timeout). */
  readonly attempts: number;
  readonly signal?: AbortSignal;
  readonly clock?: Clock;
  /** Called for every event as it happens (the incident timeline); the same events are in the result. */
  readonly onEvent?: (event: FenceEvent) => void;
}
