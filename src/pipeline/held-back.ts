import { CmphaError } from '../shared/errors.js';

/**
 * A server's evacuation job that may not start yet (its tier's gate is held, or no host has room for it): it has
 * tried nothing, so it gives its evacuation slot back and its job is delayed by `waitMs` without using up an
 * attempt (the queue keeps a delayed job in Redis: a restarted or new leader takes it up where it was).
 */
export class HeldBack extends CmphaError {
  constructor(code: string, readonly serverId: string, readonly waitMs: number, why: string) {
    super(code, why, { retryable: false });
  }
}

export function isHeldBack(err: unknown): err is HeldBack {
  return err instanceof HeldBack;
}
