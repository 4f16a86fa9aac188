import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSim, type RunningSim } from '../../src/sim/index.js';
import { ProcessGroup } from '../helpers/processes.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

// `cmpha run` on a Redis without persistence that restarts in the middle of an evacuation: the incident record
// and its jobs are gone, the host stays forced down and disabled by cmpha with servers on it. The daemon must
// find that recovery again from Nova and finish it.
describe('cmpha run after Redis lost an incident', () => {
  const group = new ProcessGroup();
  let sim: RunningSim;
  let redis: RedisServer;

  beforeAll(async () => {
    redis = await startRedis({ persist: false });
    sim = await runSim({ hosts: 2, instancesPerHost: 5, spares: 1, reportIntervalSeconds: 1, serviceDownTimeSeconds: 6, evacuateSeconds: 2, seed: 7 });
    const text = readFileSync(sim.configPath, 'utf8')
      .replace('[detector]\n', '[detector]\ninterval = 1s\nheartbeat_timeout = 3s\nleader_lease = 5s\n')
      .replace('[evacuation]\n', '[evacuation]\nconcurrency = 1\nverify_poll_interval = 300ms\nstagger = 50ms\n');
    writeFileSync(sim.configPath, `${text}\n[fencing]\npoll_interval = 200ms\n\n[redis]\nurl = ${redis.url}\nprefix = cmpha-lost\n\n[metrics]\nenabled = false\n\n[logging]\nformat = json\n`);
  });
  afterAll(async () => {
    await group.stopAll();
    await sim?.close();
    await redis?.stop();
  });

  it('re-opens the lost incident from Nova and moves every stranded server, each evacuated once', async () => {
    const bin = new URL('../../bin/cmpha.js', import.meta.url).pathname;
    const child = group.start(process.execPath, [bin, 'run', '--config', sim.configPath]);
    let logs = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => { logs += d; });
    await until(() => Promise.resolve(/cmpha controller started/.test(logs)), 20_000);

    const victim = 'compute1';
    const movable = sim.world.serverList.filter((s) => s.host === victim && (s.vmState === 'active' || s.vmState === 'error')).map((s) => s.id);
    expect(movable.length).toBeGreaterThan(1);
    await fetch(`${sim.controlUrl}/sim/hosts/${victim}/power-off`, { method: 'POST' });

    type State = { servers: { id: string; host: string; status: string }[] };
    const state = async () => (await (await fetch(`${sim.controlUrl}/sim/state`)).json()) as State;
    const moved = (st: State) => movable.filter((id) => { const s = st.servers.find((x) => x.id === id); return s?.host === 'spare1' && s.status === 'ACTIVE'; });
    await until(async () => moved(await state()).length >= 1, 60_000);
    expect(moved(await state()).length).toBeLessThan(movable.length);
    await redis.restart();

    await until(async () => moved(await state()).length === movable.length, 90_000);
    expect(logs).toMatch(/orphaned recovery found in Nova: resuming it/);
    const calls = await (await fetch(`${sim.controlUrl}/sim/calls`)).json() as { method: string; path: string; service: string; body: unknown }[];
    const evacuations = calls.filter((c) => c.service === 'nova' && c.method === 'POST' && /\/action$/.test(c.path) && JSON.stringify(c.body).includes('evacuate'));
    for (const id of movable) expect(evacuations.filter((c) => c.path.includes(id)), `evacuate calls for ${id}`).toHaveLength(1);

    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    process.kill(child.pid!, 'SIGTERM');
    expect(await exited).toBe(0);
  }, 180_000);
});

async function until(cond: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
