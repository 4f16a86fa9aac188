import { describe, expect, it } from 'vitest';
import { schedulerCheck } from '../../../src/doctor/check-compute-boot.js';
import { computeOf } from '../../helpers/compute.js';
import { isEvacuate, pipelineSuite, waitClosed, waitFor } from './world.js';

// Nova's scheduler is down (the simulator's nova-scheduler stops reporting, and Nova calls it down after
// service_down_time): the host is fenced and isolated, but no evacuation is sent until the scheduler answers.

const s = pipelineSuite();

describe('the scheduler answers before an evacuation starts', () => {
  it('waits with a timeline note while no nova-scheduler is up, then evacuates; doctor says so too', async () => {
    const w = await s.world({ hosts: 2, instancesPerHost: 2, spares: 1 });
    const compute = computeOf(w.nova);
    expect(await schedulerCheck(compute)).toMatchObject({ name: 'scheduler', status: 'ok' });
    const post = (path: string) => fetch(`${w.sim.controlUrl}${path}`, { method: 'POST' });
    expect((await post('/sim/services/nova-scheduler/stop')).status).toBe(200);
    await waitFor('Nova to call nova-scheduler down', async () => (await compute.schedulerReady!()) !== null, 10_000);
    expect(await schedulerCheck(compute)).toMatchObject({ name: 'scheduler', status: 'fail', detail: expect.stringMatching(/^no nova-scheduler answers: controller down/) });

    const r = w.recovery(s.redis);
    await r.startWorkers();
    await w.control('compute1', 'power-off');
    await w.waitNovaDown('compute1');
    await r.opener.open({ id: 'sched-1', host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
    await waitFor('the evacuations to wait', async () => ((await r.incidents.get('sched-1'))?.timeline ?? []).some((t) => t.step === 'scheduler'), 20_000);
    const waiting = (await r.incidents.get('sched-1'))!;
    expect(waiting.fence).toBeDefined();
    expect(waiting.timeline.find((t) => t.step === 'scheduler')!.message).toMatch(/^the evacuations wait: no nova-scheduler answers/);
    expect((await w.calls()).filter(isEvacuate)).toEqual([]);

    expect((await post('/sim/services/nova-scheduler/start')).status).toBe(200);
    const inc = await waitClosed(r, 'sched-1', 60_000);
    expect(inc.status).toBe('resolved');
    expect((await w.calls()).filter(isEvacuate).length).toBeGreaterThan(0);
    expect(inc.timeline.filter((t) => t.step === 'scheduler').map((t) => t.message)).toEqual([
      expect.stringMatching(/^the evacuations wait/), expect.stringMatching(/^the scheduler answers again after .*: the evacuations start$/),
    ]);
  });
});
