import type { FenceDriver, PowerReading, PowerState } from './types.js';

/**
 * For labs without BMCs: claims `off` without touching anything. The fence step marks every result from it
 * `unfenced: true`, so each incident says loudly that the host was never powered off. The config loader refuses
 * it unless `allow_unfenced_evacuation = true`.
 */
export class NoopDriver implements FenceDriver {
  readonly kind = 'noop' as const;
  readonly target: string;

  constructor(name: string) {
    this.target = `noop://${name}`;
  }

  async powerStatus(_signal: AbortSignal): Promise<PowerState> {
    return 'off';
  }

  async readPower(_signal: AbortSignal): Promise<PowerReading> {
    return { state: 'off', raw: 'noop driver: nothing was checked, the host may still be running' };
  }

  async powerOff(_signal: AbortSignal): Promise<void> {}

  async powerOn(_signal: AbortSignal): Promise<void> {}
}
