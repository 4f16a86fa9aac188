export type PowerState = 'on' | 'off' | 'unknown';

/** One BMC. Drivers never throw for a readable "unknown": they return it; they throw CmphaError for failures. */
export interface FenceDriver {
  readonly kind: 'ipmi' | 'redfish' | 'noop';
  /** Where the BMC is, for messages (never credentials). */
  readonly target: string;
  powerStatus(signal: AbortSignal): Promise<PowerState>;
  /** Idempotent: powering off a host that is off is not an error. */
  powerOff(signal: AbortSignal): Promise<void>;
  powerOn(signal: AbortSignal): Promise<void>;
}

/** A fact the fence step records on the incident timeline. */
export interface FenceEvent {
  readonly at: number;
  readonly kind: 'status' | 'power-off' | 'error';
  readonly detail: string;
}

export type FenceResult =
  | { readonly ok: true; readonly state: 'off'; readonly alreadyOff: boolean; readonly unfenced: boolean; readonly durationMs: number; readonly events: readonly FenceEvent[] }
  | { readonly ok: false; readonly code: string; readonly reason: string; readonly lastState: PowerState; readonly durationMs: number; readonly events: readonly FenceEvent[] };
