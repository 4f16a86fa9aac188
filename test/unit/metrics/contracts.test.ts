import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { DetectorMetrics } from '../../../src/detector/types.js';
import { createMetrics } from '../../../src/metrics/metrics.js';

// The detector declares the metric shapes it uses; createMetrics must satisfy them, so a rename on either
// side fails the type check here rather than when the application is wired.
describe('metric handles fit their consumers', () => {
  it('serve as DetectorMetrics', async () => {
    const registry = new Registry();
    const detector: DetectorMetrics = createMetrics(registry);
    detector.hostsByVerdict.set({ verdict: 'dead', zone: 'az1' }, 1);
    detector.detectorRounds.inc();
    const text = await registry.metrics();
    expect(text).toContain('cmpha_hosts{verdict="dead",zone="az1"} 1');
    expect(text).toContain('cmpha_detector_rounds_total 1');
  });
});
