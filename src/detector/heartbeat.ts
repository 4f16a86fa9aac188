import type { ComputeService } from '../openstack/types.js';

// Nova's `updated_at` read without trusting Nova's clock: the only questions asked of it are "did it change?"
// (compared with itself) and "how far apart are two of its values?" (Nova's clock against Nova's clock).
// When a value was first seen is cmpha's own monotonic time. A value seen at monotonic time o was written no
// later than o, so a live nova-compute writes the next one by o + period: if none has appeared by
// o + period + margin, the host missed a heartbeat, whatever either clock says.

export interface HeartbeatMemory {
  /** Epoch ms of Nova's updated_at as last read, null when Nova gave none. */
  readonly value: number | null;
  /** cmpha's monotonic ms when that value was first seen (end of the read that returned it). */
  readonly firstSeenMono: number | null;
  /** Recent gaps between successive values (Nova's clock against itself), newest last. */
  readonly gapsMs: readonly number[];
}

export const NO_HEARTBEAT: HeartbeatMemory = { value: null, firstSeenMono: null, gapsMs: [] };

const GAPS_KEPT = 9;
const GAPS_NEEDED = 3;
/** Gaps longer than this are outages or restarts, not the reporting period. */
const GAP_MAX_MS = 5 * 60_000;
/** Nothing reports faster than this; a shorter gap is an admin change landing next to a heartbeat. */
const GAP_MIN_MS = 1000;

/**
 * Folds one read of the service into the memory. `readEndMono` is when the answer arrived; `learn` says the
 * host was answering, so a change of value is a heartbeat rather than, say, cmpha's own force-down.
 */
export function trackHeartbeat(prev: HeartbeatMemory, service: ComputeService, readEndMono: number, learn: boolean): HeartbeatMemory {
  const value = service.updatedAt ? service.updatedAt.getTime() : null;
  if (Number.isNaN(value)) return prev;
  if (value === prev.value && prev.firstSeenMono !== null) return prev;
  let gapsMs = prev.gapsMs;
  if (learn && prev.value !== null && value !== null) {
    const gap = value - prev.value;
    if (gap >= GAP_MIN_MS && gap <= GAP_MAX_MS) gapsMs = [...prev.gapsMs, gap].slice(-GAPS_KEPT);
  }
  return { value, firstSeenMono: readEndMono, gapsMs };
}

/**
 * The heartbeat period: the median of the gaps seen while the host answered, once there are a few. The median
 * ignores the odd short gap an admin PUT makes (updated_at moves on every PUT) and the odd long one a
 * skipped read makes; with no history the configured period is used.
 */
export function heartbeatPeriod(memory: HeartbeatMemory, fallbackMs: number): { periodMs: number; learned: boolean } {
  if (memory.gapsMs.length < GAPS_NEEDED) return { periodMs: fallbackMs, learned: false };
  const sorted = [...memory.gapsMs].sort((a, b) => a - b);
  return { periodMs: sorted[Math.floor(sorted.length / 2)]!, learned: true };
}
