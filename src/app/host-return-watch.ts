import type { Config } from '../config/types.js';
import { decideReturn, powerOnFenced, RETURN_STEP, returnHost, trackSteady, steadyMs, fenceSawPowerOff, type ReturnSettings, type Steadiness } from '../pipeline/host-return.js';
import type { StorageUnfence } from '../pipeline/restore-host.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { sleep, systemClock } from '../shared/time.js';
import type { RecoveryWorker } from './root.js';

/** The [recovery] settings a return uses; null when neither return_repaired_hosts nor power_on_fenced_hosts is on. */
export function returnSettingsOf(config: Config): ReturnSettings | null {
  const r = config.recovery;
  if (!r || (!r.returnRepairedHosts && !r.powerOnFencedHosts)) return null;
  return {
    returnRepairedHosts: r.returnRepairedHosts, powerOnFencedHosts: r.powerOnFencedHosts, steadyForMs: r.steadyForMs,
    heartbeatGapMs: config.detector.heartbeatIntervalMs + config.detector.heartbeatMarginMs,
    returnTimeoutMs: r.returnTimeoutMs, pollIntervalMs: Math.min(config.evacuation.verifyPollIntervalMs, 2000),
    spareReasonPrefix: config.evacuation.spareReasonPrefix,
  };
}

export interface HostReturnWatchOptions {
  readonly logger: Logger;
  readonly everyMs: number;
  readonly isLeader: () => boolean;
  /** The host's storage blocklist, where it has one (src/cli/commands/host.ts storageUnfence). */
  readonly storage?: (host: string) => StorageUnfence | undefined;
  /** cmpha's monotonic clock (tests replace it); steadiness is measured on it, never on the cloud's. */
  readonly mono?: () => number;
}

/**
 * The leader's look, every check_interval, at the hosts cmpha isolated whose incident is closed: power them on
 * once every server left (power_on_fenced_hosts), return them once their heartbeat is steady
 * (return_repaired_hosts). `tick` is one look (a test calls it); it returns the hosts acted on.
 */
export function watchHostReturns(recovery: RecoveryWorker, settings: ReturnSettings, opts: HostReturnWatchOptions): { tick(): Promise<string[]>; stop(): void } {
  const mono = opts.mono ?? (() => performance.now());
  const steady = new Map<string, Steadiness>();
  const poweredOn = new Set<string>();
  const lastFailure = new Map<string, string>();
  const stopping = new AbortController();
  // A deposed leader writes nothing: the timeline goes through the recovery's store, checked against the lease.
  const writes = recovery.incidents.forRecovery(recovery.lease);
  let running: Promise<string[]> | null = null;

  const look = async (): Promise<string[]> => {
    if (!opts.isLeader()) return [];
    const acted: string[] = [];
    const hosts = await recovery.compute.hosts({ signal: stopping.signal });
    const now = mono();
    const marked = new Set<string>();
    for (const h of hosts) {
      const mark = h.marker.incident;
      if (!mark || h.marker.spare) continue;
      marked.add(h.name);
      steady.set(h.name, trackSteady(steady.get(h.name), h.heartbeatAt?.getTime() ?? null, now, settings.heartbeatGapMs));
      const rec = await recovery.incidents.getRecord(mark.id);
      if (!rec || rec.closedAt === undefined) continue;
      const record = async (level: 'info' | 'warning', message: string) => {
        await writes.addTimeline(rec.id, { step: RETURN_STEP, level, message });
      };
      const driver = recovery.fenceDriverFor(h.name);
      const key = `${rec.id}`;
      try {
        const wantsPower = settings.powerOnFencedHosts && driver !== null && fenceSawPowerOff(rec) && !poweredOn.has(key);
        const power = wantsPower ? await driver.powerStatus(AbortSignal.any([stopping.signal, AbortSignal.timeout(30_000)])).catch(() => 'unknown' as const) : null;
        const guests = power === 'off' ? (await recovery.compute.guestsOn(h.name, { signal: stopping.signal })).length : 0;
        const timeline = power === 'off' ? (await recovery.incidents.get(rec.id))?.timeline ?? [] : [];
        const byCmpha = poweredOn.has(key) || timeline.some((t) => t.step === RETURN_STEP && t.message.startsWith('power on requested'));
        const decision = decideReturn({ record: rec, steadyMs: steadyMs(steady.get(h.name), now), guests, power, poweredOnByCmpha: byCmpha }, settings);
        if (decision.kind === 'wait') continue;
        const storage = opts.storage?.(h.name);
        const deps = {
          compute: recovery.compute, clock: systemClock, sleep, record, fenceDriver: driver, signal: stopping.signal,
          spareTaken: async (spare: string) => (await recovery.incidents.spareClaimedBy(spare)) !== null,
          ...(storage ? { storage } : {}),
        };
        if (decision.kind === 'power-on') {
          poweredOn.add(key);
          await powerOnFenced(deps, rec);
        } else {
          await returnHost(deps, rec, settings, decision.powerCycled);
          steady.delete(h.name);
        }
        lastFailure.delete(key);
        acted.push(h.name);
      } catch (err) {
        const message = errorMessage(err);
        opts.logger.warn({ host: h.name, incidentId: rec.id, err: message }, 'returning a repaired host failed; tried again on the next look');
        // Said once in the timeline per distinct failure, not on every look.
        if (lastFailure.get(key) !== message) {
          lastFailure.set(key, message);
          await record('warning', `returning ${h.name} stopped: ${message}; tried again on the next look`).catch(() => undefined);
        }
      }
    }
    for (const name of steady.keys()) if (!marked.has(name)) steady.delete(name);
    return acted;
  };
  const tick = (): Promise<string[]> => (running ??= look().finally(() => { running = null; }));
  const timer = setInterval(() => { void tick().catch((err: unknown) => opts.logger.warn({ err: errorMessage(err) }, 'repaired-host check failed')); }, opts.everyMs);
  timer.unref();
  return { tick, stop: () => { clearInterval(timer); stopping.abort(); } };
}
