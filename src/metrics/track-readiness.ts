import type { ReadinessReport } from './http-server.js';
import { READINESS_CHECKS, type Metrics } from './metrics.js';

/**
 * Wraps the application's readiness function so every evaluation also sets `cmpha_ready` and
 * `cmpha_readiness_check{check}` (redis, nova, detector; 1/0, all 0 when it throws). Pass the result to startMetricsServer and call it on a timer as well: Prometheus scrapes
 * /metrics, not /readyz, and the gauge must not wait for someone to probe.
 */
export function trackReadiness(metrics: Metrics, readiness: () => Promise<ReadinessReport>): () => Promise<ReadinessReport> {
  return async () => {
    try {
      const report = await readiness();
      metrics.ready.set(report.ready ? 1 : 0);
      for (const check of READINESS_CHECKS) metrics.readinessCheck.set({ check }, report.checks[check].ok ? 1 : 0);
      return report;
    } catch (err) {
      metrics.ready.set(0);
      for (const check of READINESS_CHECKS) metrics.readinessCheck.set({ check }, 0);
      throw err;
    }
  };
}
