import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDuration } from '../../../src/shared/duration.js';
import { runSim, type RunningSim } from '../../../src/sim/index.js';
import { layerConfig } from '../../helpers/layer-config.js';

// `cmpha check` against a cloud with a host powered off: it watches the suspect for min_silence, so it takes
// seconds. It must say so (it printed one round's milliseconds), and say that the heartbeat's age is what cmpha
// itself watched, not Nova's timestamp against cmpha's clock.
const bin = new URL('../../../bin/cmpha.js', import.meta.url).pathname;
let sim: RunningSim;

beforeAll(async () => {
  sim = await runSim({ hosts: 2, instancesPerHost: 1, spares: 0, reportIntervalSeconds: 1 });
  layerConfig(sim.configPath, { detector: { interval: '1s', min_silence: '2s' } });
  const res = await fetch(`${sim.controlUrl}/sim/hosts/compute1/power-off`, { method: 'POST' });
  expect(res.ok).toBe(true);
});
afterAll(async () => { await sim?.close(); });

/** Async: the simulated cloud runs in this process and must keep answering while the command runs. */
function cmpha(...args: string[]): Promise<{ status: number | null; stdout: string; wallMs: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'ignore'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('close', (status) => { clearTimeout(timer); resolve({ status, stdout, wallMs: Date.now() - started }); });
  });
}

describe('cmpha check reports time as the operator lived it', () => {
  it('the wall time of the whole check, and how long cmpha itself watched the heartbeat not move', async () => {
    const r = await cmpha('--config', sim.configPath, 'check');
    const took = /\(checked in (\S+); nothing was acted on\)/.exec(r.stdout);
    expect(took, r.stdout).not.toBeNull();
    const printedMs = parseDuration(took![1]!, 'ms')!;
    // At least the pause between its two rounds (1 s) and the watch of the suspect; at most the process's life.
    expect(printedMs).toBeGreaterThanOrEqual(1000);
    expect(printedMs).toBeLessThanOrEqual(r.wallMs);
    expect(r.stdout).toMatch(/^compute1: /m);
    expect(r.stdout).toMatch(/updated_at has not moved in the \d+(\.\d)?s cmpha has watched it/);
    expect(r.stdout).not.toMatch(/updated_at unchanged for/);
  }, 120_000);
});
