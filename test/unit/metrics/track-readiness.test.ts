import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { ReadinessReport } from '../../../src/metrics/http-server.js';
import { createMetrics } from '../../../src/metrics/metrics.js';
import { trackReadiness } from '../../../src/metrics/track-readiness.js';

const report = (ready: boolean): ReadinessReport => ({
  ready,
  checks: {
    redis: { ok: ready, detail: ready ? 'PONG' : 'ECONNREFUSED' },
    nova: { ok: true, detail: 'ok' },
    detector: { ok: true, lastRoundAgeSeconds: 1 },
    role: 'standby',
  },
});

async function readyValue(registry: Registry): Promise<number | undefined> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === 'cmpha_ready');
  return m?.values[0]?.value;
}

describe('trackReadiness', () => {
  it('sets cmpha_ready from each evaluation and passes the report through', async () => {
    const registry = new Registry();
    const metrics = createMetrics(registry);
    let ready = true;
    const tracked = trackReadiness(metrics, async () => report(ready));
    expect(await tracked()).toEqual(report(true));
    expect(await readyValue(registry)).toBe(1);
    expect(await registry.metrics()).toContain('cmpha_readiness_check{check="redis"} 1');
    ready = false;
    expect((await tracked()).ready).toBe(false);
    expect(await readyValue(registry)).toBe(0);
    const text = await registry.metrics();
    expect(text).toContain('cmpha_readiness_check{check="redis"} 0');
    expect(text).toContain('cmpha_readiness_check{check="nova"} 1');
  });

  it('sets cmpha_ready to 0 and rethrows when the check throws', async () => {
    const registry = new Registry();
    const metrics = createMetrics(registry);
    metrics.ready.set(1);
    const tracked = trackReadiness(metrics, async () => { throw new Error('redis gone'); });
    await expect(tracked()).rejects.toThrow('redis gone');
    expect(await readyValue(registry)).toBe(0);
  });
});
