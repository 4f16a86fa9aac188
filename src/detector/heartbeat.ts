import type { ComputeHost } from '../compute/types.js';

// Nova's `updated_at` read without trusting Nova's clock: the only questions asked of it are "did it change?"
// (compared with itself) and "how far apart are two of its values?" (Nova's clock against Nova's clock).
// When a value was first seen is cmpha's own monotonic time. A value seen at monotonic time o was written no
// later than o, so a live nova-compute writes the next one by o + period: if none has appeared by
// o + period + margin, the host missed a heartbeat, whatever either clock says.
//
// updated_at also moves on every `PUT /os-services/{id}` (cmpha's own force-down, disable or spare enable, an
// operator's `openstack compute service set`): such a write splits one heartbeat gap in two, and a period learned
// from the halves is too short, so the next ordinary gap reads as a missed heartbeat. Two defences: a move that
// comes with a change of status, disabled_reason or forced_down is an admin write (not a gap, and the next gap is
// not measured from it either), and a period shorter than the configured one is believed only after enough gaps,
// since a write that changes nothing visible cannot be told from a heartbeat.

export interface HeartbeatMemory {
  /** Epoch ms of Nova's updated_at as last read, null when Nova gave none. */
  readonly value: number | null;
  /** cmpha's monotonic ms when that value was first seen (end of the read that returned it). */
  readonly firstSeenMono: number | null;
  /** Recent gaps between successive values (Nova's clock against itself), newest last. */
  readonly gapsMs: readonly number[];
  /** The value the next gap is measured from: null right after an admin write, whose value is no heartbeat. */
  readonly gapFrom: number | null;
  /** The service's admin fields (status, disabled_reason, forced_down) as last read, null before the first read. */
  readonly admin: string | null;
}

export const NO_HEARTBEAT: HeartbeatMemory = { value: null, firstSeenMono: null, gapsMs: [], gapFrom: null, admin: null };

const GAPS_KEPT = 9;
const GAPS_NEEDED = 3;
/** Gaps needed before a period shorter than the configured one is believed (an unseen admin write splits a gap). */
const GAPS_TRUSTED = 6;
/** Gaps longer than this are outages or restarts, not the reporting period. */
const GAP_MAX_MS = 5 * 60_000;
/** Nothing reports faster than this; a shorter gap is an admin change landing next to a heartbeat. */
const GAP_MIN_MS = 1000;

/** What an admin write changes and a heartbeat never does. */
function adminFields(s: Pick<ComputeHost, 'status' | 'reason' | 'isolated'>): string {
  return JSON.stringify([s.status, s.reason ?? null, s.isolated]);
}

/**
 * Folds one read of the service into the memory. `readEndMono` is when the answer arrived; `learn` says the
 * host was answering, so a change of value is a heartbeat rather than, say, cmpha's own force-down.
 */
export function trackHeartbeat(prev: HeartbeatMemory, service: Pick<ComputeHost, 'heartbeatAt' | 'status' | 'reason' | 'isolated'>, readEndMono: number, learn: boolean): HeartbeatMemory {
  const value = service.heartbeatAt ? service.heartbeatAt.getTime() : null;
  if (Number.isNaN(value)) return prev;
  const admin = adminFields(service);
  if (value === prev.value && prev.firstSeenMono !== null) return prev.admin === admin ? prev : { ...prev, admin };
  // An admin write seen: its value is not a heartbeat, and neither end of the gaps around it is one.
  const adminWrite = prev.admin !== null && prev.admin !== admin;
  const from = prev.gapFrom;
  let gapsMs = prev.gapsMs;
  if (learn && !adminWrite && from !== null && value !== null) {
    const gap = value - from;
    if (gap >= GAP_MIN_MS && gap <= GAP_MAX_MS) gapsMs = [...prev.gapsMs, gap].slice(-GAPS_KEPT);
  }
  return { value, firstSeenMono: readEndMono, gapsMs, gapFrom: adminWrite ? null : value, admin };
}

/**
 * The heartbeat period: the median of the gaps seen while the host answered, once there are a few. The median
 * ignores the odd short gap an admin PUT makes and the odd long one a skipped read makes; with no history the
 * configured period is used, and a learned period shorter than the configured one only once `GAPS_TRUSTED` gaps
 * agree (before that the configured period is the floor).
 */
export function heartbeatPeriod(memory: HeartbeatMemory, fallbackMs: number): { periodMs: number; learned: boolean } {
  if (memory.gapsMs.length < GAPS_NEEDED) return { periodMs: fallbackMs, learned: false };
  const sorted = [...memory.gapsMs].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  if (median < fallbackMs && memory.gapsMs.length < GAPS_TRUSTED) return { periodMs: fallbackMs, learned: false };
  return { periodMs: median, learned: true };
}

/** Whether `next` (folded from `prev`) saw nova-compute write a heartbeat: a new value that is no admin write. */
export function heartbeatMoved(prev: HeartbeatMemory, next: HeartbeatMemory): boolean {
  return prev.firstSeenMono !== null && prev.value !== null && next.value !== null && next.value !== prev.value && next.gapFrom !== null;
}
