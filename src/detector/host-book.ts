import type { Logger } from '../shared/logger.js';
import type { ActResult } from './act.js';
import { judge, type JudgeConfig } from './judge.js';
import type { Observation } from './observe.js';
import type { HostMemory, HostReport } from './types.js';

const QUIET: ReadonlySet<string> = new Set(['healthy', 'maintenance']);
const HAS_INCIDENT: ReadonlySet<string> = new Set(['incident-already-open', 'incident-exists', 'incident-waiting', 'open-incident']);

/** What the detector remembers per host between observations: the judge's memory and the last report. */
export class HostBook {
  private readonly memory = new Map<string, HostMemory>();
  private readonly latest = new Map<string, HostReport>();

  /** Hosts worth a look between rounds: unhealthy, or with any signal silent, and no incident yet. */
  suspects(): string[] {
    return [...this.latest.values()]
      .filter((r) => !QUIET.has(r.verdict) || r.evidence.silentForMs > 0 || r.evidence.networks.some((n) => n.result === 'silent' || n.result === 'crash-kernel'))
      .filter((r) => !HAS_INCIDENT.has(r.action))
      .filter((r) => r.verdict !== 'maintenance')
      .map((r) => r.host);
  }

  /** Judges every observed host; a full round that listed the hosts also forgets those Nova no longer has. */
  judge(obs: Observation, cfg: JudgeConfig, log: Logger): void {
    if (obs.kind === 'round' && obs.listed) {
      const present = new Set(obs.hosts.map((h) => h.host));
      for (const h of [...this.latest.keys()]) if (!present.has(h)) { this.latest.delete(h); this.memory.delete(h); }
    }
    for (const o of obs.hosts) {
      const j = judge(o, this.memory.get(o.host), cfg);
      const prev = this.memory.get(o.host)?.verdict;
      this.memory.set(o.host, j.memory);
      if (prev !== j.verdict) {
        const level = QUIET.has(j.verdict) ? 'info' : 'warn';
        log[level]({ host: o.host, from: prev ?? null, to: j.verdict, reasons: j.evidence.reasons }, 'host verdict changed');
      }
      this.latest.set(o.host, { host: o.host, zone: j.evidence.zone, verdict: j.verdict, action: 'none', evidence: j.evidence });
    }
  }

  isHealthy(host: string): boolean {
    return this.memory.get(host)?.verdict === 'healthy';
  }

  /** Every host's latest report by name; none after a round that could not list the hosts. */
  reportsFor(obs: Observation): HostReport[] {
    return obs.kind === 'round' && !obs.listed ? [] : [...this.latest.values()].sort((a, b) => a.host.localeCompare(b.host));
  }

  /** Takes in what the actor did: hosts a recheck found alive are no longer silent; hosts that came back start afresh. */
  acted(result: ActResult): void {
    for (const h of result.recheckedAlive) {
      const m = this.memory.get(h);
      if (m) this.memory.set(h, { ...m, silentSinceMono: null });
    }
    // Their failure is over: the next one starts a new streak, so it gets a new incident id (the aborted one's is taken).
    for (const h of result.cameBack) {
      const m = this.memory.get(h);
      if (m) this.memory.set(h, { ...m, silentSinceMono: null, suspectSince: null, unhealthyRounds: 0 });
    }
    for (const r of result.hosts) this.latest.set(r.host, r);
  }

  heartbeatSeen(host: string): number | null {
    return this.memory.get(host)?.heartbeat.value ?? null;
  }
}
