import type { Clock } from '../shared/time.js';

/**
 * Wall time plus an offset that `POST /sim/clock` can move forward. `novaSkewMs` is how far Nova's own clock
 * is off (`POST /sim/clock {"novaSkewSeconds": N}`): it shifts the timestamps Nova writes (updated_at and the
 * like) and nothing else, as an unsynchronised controller clock would.
 */
export class SimClock implements Clock {
  private offsetMs = 0;
  novaSkewMs = 0;

  now(): number {
    return Date.now() + this.offsetMs;
  }

  /** A time of this clock as Nova's skewed clock would write it. */
  nova(ms: number): number {
    return ms + this.novaSkewMs;
  }

  advance(ms: number): void {
    if (!(ms >= 0)) throw new Error('the clock only moves forward');
    this.offsetMs += ms;
  }
}

/** Nova's timestamp style for services, migrations and actions: 2024-01-02T03:04:05.000000 (UTC, no zone). */
export function novaTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000');
}

/** Nova's timestamp style for servers: 2024-01-02T03:04:05Z. */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Keystone's style: 2024-01-02T03:04:05.000000Z. */
export function keystoneTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
