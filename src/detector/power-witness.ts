import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { PowerEvidence } from './types.js';

/** Reads one host's chassis power, read-only (a fence device's status read); null when the host has none to ask. */
export type PowerRead = (signal: AbortSignal) => Promise<PowerEvidence['state']>;

export interface PowerWitnessOptions {
  /** The host's power read and where it goes (for the evidence; never credentials), or null. */
  readonly readerFor: (host: string) => { readonly read: PowerRead; readonly where: string } | null;
  readonly mono: () => number;
  readonly log: Logger;
  /** One host's BMC is asked at most once per this long. */
  readonly minIntervalMs?: number;
  /** A read that has not answered after this long is an `unknown` (and does not hold any round). */
  readonly timeoutMs?: number;
  /** Reads in flight at once, all hosts together: a rack of suspects does not flood the BMC network. */
  readonly maxInFlight?: number;
}

/**
 * The BMCs of hosts under suspicion as witnesses: `look(hosts)` starts a power read of each host that is due
 * (at most one per `minIntervalMs` a host, at most `maxInFlight` at once, never a command) and returns, at once,
 * the last answer of each: a read never holds the observation that asked, so a BMC that answers slowly costs
 * nothing but its own evidence. Hosts no longer asked about are forgotten, with their answers, so an old `off`
 * is never shown for a later suspicion.
 */
export class PowerWitness {
  private readonly last = new Map<string, PowerEvidence>();
  private readonly started = new Map<string, number>();
  private readonly inFlight = new Set<string>();
  private readonly reads = new Set<Promise<void>>();
  private readonly stopped = new AbortController();
  private seq = 0;

  constructor(private readonly opts: PowerWitnessOptions) {}

  look(hosts: readonly string[]): ReadonlyMap<string, PowerEvidence> {
    const wanted = new Set(hosts);
    for (const h of [...this.last.keys()]) if (!wanted.has(h)) this.last.delete(h);
    for (const h of [...this.started.keys()]) if (!wanted.has(h) && !this.inFlight.has(h)) this.started.delete(h);
    const now = this.opts.mono();
    const max = this.opts.maxInFlight ?? 4;
    for (const h of hosts) {
      if (this.stopped.signal.aborted || this.inFlight.size >= max) break;
      if (this.inFlight.has(h) || now - (this.started.get(h) ?? -Infinity) < (this.opts.minIntervalMs ?? 1000)) continue;
      const reader = this.opts.readerFor(h);
      if (!reader) continue;
      this.started.set(h, now);
      this.inFlight.add(h);
      const p: Promise<void> = this.read(h, reader).finally(() => { this.inFlight.delete(h); this.reads.delete(p); });
      this.reads.add(p);
    }
    const out = new Map<string, PowerEvidence>();
    for (const h of hosts) {
      const e = this.last.get(h);
      if (e) out.set(h, e);
    }
    return out;
  }

  private async read(host: string, reader: { read: PowerRead; where: string }): Promise<void> {
    const signal = AbortSignal.any([this.stopped.signal, AbortSignal.timeout(this.opts.timeoutMs ?? 2000)]);
    let state: PowerEvidence['state'];
    let detail: string;
    try {
      state = await reader.read(signal);
      detail = `power read ${state} from ${reader.where}`;
    } catch (err) {
      if (this.stopped.signal.aborted) return;
      state = 'unknown';
      detail = `power not read from ${reader.where}: ${errorMessage(err)}`;
      this.opts.log.debug({ host, err: errorMessage(err) }, 'BMC power read failed');
    }
    // Asked about no longer (the host answers again): the answer is dropped.
    if (!this.started.has(host)) return;
    this.last.set(host, { state, detail, atMono: this.opts.mono(), seq: ++this.seq });
  }

  /** Resolves once the reads in flight now have answered (tests step a simulated clock with it). */
  async settled(): Promise<void> {
    await Promise.all([...this.reads]);
  }

  /** Reads in flight are abandoned; no new one starts. */
  stop(): void {
    this.stopped.abort();
  }
}
