import type { DetectorMetrics, RoundReport } from './types.js';

/** Publishes one finished round (or suspect check) on the detector's gauges; only full rounds count as rounds. */
export function recordRoundMetrics(m: DetectorMetrics | undefined, report: RoundReport): void {
  if (!m) return;
  if (report.kind === 'round') {
    m.detectorRounds.inc();
    m.detectorRoundDuration.observe(report.durationMs / 1000);
  }
  m.detectorLastRoundTimestamp.set(Math.floor((report.startedAt + report.durationMs) / 1000));
  m.leader.set(report.leader ? 1 : 0);
  m.stormBrakeActive.set(report.stormBrake.active ? 1 : 0);
  m.controllerIsolated.set(report.isolated || report.blindReason !== null ? 1 : 0);
  m.agentDownHosts.set(report.hosts.filter((h) => h.verdict === 'agent-down').length);
  const counts = new Map<string, { verdict: string; zone: string; n: number }>();
  for (const h of report.hosts) {
    const k = `${h.verdict}\u0000${h.zone ?? ''}`;
    const c = counts.get(k) ?? { verdict: h.verdict, zone: h.zone ?? '', n: 0 };
    c.n += 1;
    counts.set(k, c);
  }
  if (report.disarms) {
    // Rewritten each round: an armed scope's series disappears.
    m.haDisarmed?.reset();
    m.haDisarmOverdue?.reset();
    for (const d of report.disarms) {
      m.haDisarmed?.set({ scope: d.key, state: d.state }, 1);
      m.haDisarmOverdue?.set({ scope: d.key }, d.overdue ? 1 : 0);
    }
  }
  m.hostsByVerdict.reset();
  for (const c of counts.values()) m.hostsByVerdict.set({ verdict: c.verdict, zone: c.zone }, c.n);
}
