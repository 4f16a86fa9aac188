import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { CONFIG_REFERENCE } from '../../../src/config/reference.js';
import { queueNames } from '../../../src/pipeline/queues.js';
import { pipelineWorld, waitClosed, pipelineSuite } from './world.js';

// `concurrency` is one limit for the whole controller, as the reference says: three incidents at once share it.

const s = pipelineSuite();

describe('evacuation concurrency', () => {
  it('the reference says which limits are global', () => {
    const evac = CONFIG_REFERENCE.find((s) => s.section === 'evacuation')!;
    const help = (key: string) => evac.keys.find((k) => k.key === key)!.help;
    expect(help('concurrency')).toMatch(/across all incidents and replicas/);
    expect(help('max_per_minute')).toMatch(/across all incidents and replicas/);
    expect(help('stagger')).toMatch(/same incident/);
  });

  it('three hosts down at once: at most `concurrency` evacuations in flight across all three incidents', async () => {
    s.w = await pipelineWorld({ hosts: 4, instancesPerHost: 3, spares: 1, evacuateSeconds: 1, redisUrl: s.redisUrl, evacuation: { concurrency: 2, spareCount: 0 } });
    const hosts = ['compute1', 'compute2', 'compute3'];
    for (const h of hosts) await s.w.control(h, 'power-off');
    for (const h of hosts) await s.w.waitNovaDown(h);
    const r = s.w.recovery(s.redis);
    await r.startWorkers();
    const q = new Queue(queueNames(s.w.config.redis.prefix).evacuate, { connection: s.redis });
    let most = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        most = Math.max(most, await q.getActiveCount());
        await new Promise((res) => setTimeout(res, 25));
      }
    })();
    try {
      for (const h of hosts) await r.opener.open({ id: `conc-${h}`, host: h, failureStartedAt: Date.now(), evidence: {} });
      for (const h of hosts) expect((await waitClosed(r, `conc-${h}`, 90_000)).status).not.toBe('failed');
    } finally {
      sampling = false;
      await sampler;
      await q.close();
    }
    expect(most).toBeLessThanOrEqual(2);
    expect(most).toBeGreaterThan(0);
  }, 120_000);
});
