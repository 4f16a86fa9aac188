import type { ComputeBackend, ComputeHost } from '../compute/types.js';
import { powerDeviceType } from '../fencing/devices/registry.js';
import type { FenceDriver } from '../fencing/types.js';
import type { IncidentRecord } from '../incidents/types.js';
import { errorMessage } from '../shared/errors.js';
import type { Clock } from '../shared/time.js';
import { restoreHost, type StorageUnfence } from './restore-host.js';

// A host cmpha fenced comes back after repair, when asked to ([recovery] return_repaired_hosts,
// power_on_fenced_hosts). The return itself is restoreHost, the code `cmpha host restore` runs; this module
// decides when, and which of its steps: the host's incident is closed, its heartbeat is back and steady on
// cmpha's clock, and its storage blocklist is lifted only when cmpha saw its power go off (the fence read it) and
// it runs again now. Every step goes into the closed incident's timeline as step `return`: the incident is the
// host's story (failure, fence, moves, return) and an operator reads it in one place; a separate record would be
// one more place to look, and the step name says that it came after the close.

export const RETURN_STEP = 'return';

export interface ReturnSettings {
  readonly returnRepairedHosts: boolean;
  readonly powerOnFencedHosts: boolean;
  readonly steadyForMs: number;
  /** The longest gap between two heartbeats that keeps them steady (heartbeat interval + margin). */
  readonly heartbeatGapMs: number;
  readonly returnTimeoutMs: number;
  readonly pollIntervalMs: number;
  readonly spareReasonPrefix: string;
}

/** How long the host's heartbeat has moved without a long gap, on cmpha's monotonic clock. */
export interface Steadiness {
  /** The heartbeat time last read (the cloud's clock: only compared with itself). */
  readonly value: number | null;
  /** The first move of the current steady run, or null when it is not moving. */
  readonly sinceMono: number | null;
  readonly lastMoveMono: number | null;
}

/** Folds one heartbeat reading into the host's steadiness. Pure. */
export function trackSteady(prev: Steadiness | undefined, heartbeatAt: number | null, mono: number, gapMs: number): Steadiness {
  if (!prev) return { value: heartbeatAt, sinceMono: null, lastMoveMono: null };
  if (heartbeatAt !== prev.value && heartbeatAt !== null) {
    const continues = prev.sinceMono !== null && prev.lastMoveMono !== null && mono - prev.lastMoveMono <= gapMs;
    return { value: heartbeatAt, sinceMono: continues ? prev.sinceMono : mono, lastMoveMono: mono };
  }
  if (prev.lastMoveMono !== null && mono - prev.lastMoveMono > gapMs) return { value: prev.value, sinceMono: null, lastMoveMono: null };
  return prev;
}

export const steadyMs = (s: Steadiness | undefined, mono: number): number => (s?.sinceMono == null ? 0 : mono - s.sinceMono);

/** The fence read the host's power off (a power device in the winning level), not a human's word nor a storage cut. */
export function fenceSawPowerOff(rec: Pick<IncidentRecord, 'fence'>): boolean {
  const f = rec.fence;
  if (!f || f.unfenced || f.confirmedBy) return false;
  return f.driver.split('+').some((d) => { const t = powerDeviceType(d); return t !== undefined && !t.unfenced; });
}

/** What to do next for one isolated host whose incident is closed. Pure. */
export type ReturnDecision =
  | { readonly kind: 'wait'; readonly why: string }
  | { readonly kind: 'power-on' }
  | { readonly kind: 'return'; readonly powerCycled: boolean };

export interface ReturnFacts {
  readonly record: IncidentRecord;
  readonly steadyMs: number;
  /** Servers the cloud still places on the host. */
  readonly guests: number;
  /** The host's power as its device reads it now, null without a device or when it was not read. */
  readonly power: 'on' | 'off' | 'unknown' | null;
  /** cmpha powered it on after this incident (its timeline says so). */
  readonly poweredOnByCmpha: boolean;
}

export function decideReturn(f: ReturnFacts, s: ReturnSettings): ReturnDecision {
  if (f.record.closedAt === undefined) return { kind: 'wait', why: 'its incident is still open' };
  if (s.powerOnFencedHosts && f.power === 'off' && !f.poweredOnByCmpha && fenceSawPowerOff(f.record)) {
    return f.guests === 0 ? { kind: 'power-on' } : { kind: 'wait', why: `${f.guests} server(s) are still placed on it: it stays off until every one has left` };
  }
  if (!s.returnRepairedHosts) return { kind: 'wait', why: 'return_repaired_hosts is off' };
  if (f.steadyMs < s.steadyForMs) return { kind: 'wait', why: f.steadyMs === 0 ? 'its heartbeat is not back' : 'its heartbeat is back but not steady for long enough yet' };
  return { kind: 'return', powerCycled: fenceSawPowerOff(f.record) };
}

export interface ReturnDeps {
  readonly compute: ComputeBackend;
  readonly clock: Clock;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Writes one line into the incident's timeline (step `return`). */
  readonly record: (level: 'info' | 'warning', message: string) => Promise<void>;
  readonly fenceDriver: FenceDriver | null;
  readonly storage?: StorageUnfence;
  /** Whether another open incident holds the spare. */
  readonly spareTaken: (spare: string) => Promise<boolean>;
  readonly signal?: AbortSignal;
}

/** Powers the fenced host back on; it stays isolated (forced down, disabled) until it is returned. */
export async function powerOnFenced(deps: ReturnDeps, rec: IncidentRecord): Promise<void> {
  const driver = deps.fenceDriver;
  if (!driver) throw new Error(`${rec.host} has no power device to power it on with`);
  await deps.record('info', `every server has left ${rec.host}: powering it on through ${driver.kind} ${driver.target} (power_on_fenced_hosts); it stays forced down and disabled until its heartbeat is steady`);
  await driver.powerOn(deps.signal ?? AbortSignal.timeout(60_000));
  await deps.record('info', `power on requested for ${rec.host}`);
}

/**
 * Returns the repaired host with restoreHost (forced_down unset once Nova accepts it, the blocklist lifted only
 * after a power-cycle, the service up, then enabled), then puts the incident's unused spares back in the pool.
 */
export async function returnHost(deps: ReturnDeps, rec: IncidentRecord, s: ReturnSettings, powerCycled: boolean): Promise<void> {
  await deps.record('info', `${rec.host}'s heartbeat has been back and steady for ${Math.round(s.steadyForMs / 1000)} s: returning it (return_repaired_hosts)`);
  const progress: string[] = [];
  await restoreHost(
    {
      compute: deps.compute, fenceDriver: null, clock: deps.clock, sleep: deps.sleep,
      progress: (line) => { if (progress.at(-1) !== line) { progress.push(line); void deps.record('info', line).catch(() => undefined); } },
      ...(deps.storage ? { storage: deps.storage } : {}),
    },
    {
      host: rec.host, powerOn: false, asSpare: false, spareReasonPrefix: s.spareReasonPrefix,
      waitTimeoutMs: s.returnTimeoutMs, pollIntervalMs: s.pollIntervalMs,
      unfenceStorage: deps.storage !== undefined && powerCycled, powerCycled,
      ...(deps.signal ? { signal: deps.signal } : {}),
    },
  );
  if (deps.storage && !powerCycled) {
    await deps.record('warning', `${rec.host}'s storage blocklist was not lifted: cmpha did not see its power go off (${rec.fence?.confirmedBy ? 'a person confirmed the fence' : `fenced by ${rec.fence?.driver ?? 'nothing'}`}); lift it with cmpha host restore ${rec.host} --unfence-storage --power-cycled once you know it was power-cycled`);
  }
  await deps.record('info', `${rec.host} is back in service: enabled`);
  for (const spare of rec.spares ?? []) await returnSpare(deps, rec, s, spare.host);
}

/** A spare the incident enabled and nothing runs on goes back to the reserved pool, disabled with the spare reason. */
async function returnSpare(deps: ReturnDeps, rec: IncidentRecord, s: ReturnSettings, spare: string): Promise<void> {
  try {
    const svc: ComputeHost = await deps.compute.host(spare, deps.signal ? { signal: deps.signal } : {});
    if (svc.status !== 'enabled') return;
    if (await deps.spareTaken(spare)) { await deps.record('info', `spare ${spare} stays enabled: another open incident uses it`); return; }
    const guests = await deps.compute.guestsOn(spare, deps.signal ? { signal: deps.signal } : {});
    if (guests.length > 0) { await deps.record('info', `spare ${spare} stays enabled: ${guests.length} server(s) run on it`); return; }
    const reason = `${s.spareReasonPrefix} spare, back in the pool: ${rec.host} returned ${new Date(deps.clock.now()).toISOString()} (incident ${rec.id})`;
    await deps.compute.disable(svc, reason, deps.signal ? { signal: deps.signal } : {});
    await deps.record('info', `spare ${spare} was not used: disabled again as a reserved spare ("${reason}")`);
  } catch (err) {
    await deps.record('warning', `spare ${spare} could not be put back in the pool: ${errorMessage(err)}`);
  }
}
