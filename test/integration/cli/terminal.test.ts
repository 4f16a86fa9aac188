import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSim, type RunningSim } from '../../../src/sim/index.js';
import { layerConfig } from '../../helpers/layer-config.js';

// One-shot commands on a terminal, as an operator types them: `script` gives the command a real pty.
const bin = new URL('../../../bin/cmpha.js', import.meta.url).pathname;
let sim: RunningSim;

beforeAll(async () => {
  sim = await runSim({ hosts: 2, instancesPerHost: 1, spares: 0, reportIntervalSeconds: 1 });
  layerConfig(sim.configPath, { detector: { interval: '1s' } });
});
afterAll(async () => { await sim?.close(); });

/** Async: the simulated cloud runs in this process and must keep answering while the command runs. */
function onTerminal(env: Record<string, string>, ...args: string[]): Promise<{ status: number | null; stdout: string }> {
  const cmd = [process.execPath, bin, ...args].map((a) => `'${a}'`).join(' ');
  return new Promise((resolve) => {
    const child = spawn('script', ['-qec', cmd, '/dev/null'], { env: { PATH: process.env.PATH ?? '', TERM: 'xterm', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (status) => { clearTimeout(timer); resolve({ status, stdout }); });
  });
}

describe('one-shot commands on a terminal', () => {
  it('cmpha check prints its table, not the info logs; --verbose brings them back; NO_COLOR and --no-color take the colour out', async () => {
    const quiet = await onTerminal({}, '--config', sim.configPath, 'check');
    expect(quiet.status).toBe(0);
    expect(quiet.stdout).toMatch(/^HOST\s+ZONE\s+VERDICT/m);
    expect(quiet.stdout).not.toMatch(/INFO/);
    const lines = quiet.stdout.trim().split(/\r?\n/);
    expect(lines.length).toBeLessThan(12);

    const verbose = await onTerminal({}, '--config', sim.configPath, '--verbose', 'check');
    expect(verbose.stdout).toMatch(/INFO/);
    expect(verbose.stdout).toContain('\u001b[');

    for (const [env, flags] of [[{ NO_COLOR: '1' }, []], [{}, ['--no-color']]] as const) {
      const plain = await onTerminal(env, '--config', sim.configPath, '--verbose', ...flags, 'check');
      expect(plain.stdout).toMatch(/INFO/);
      expect(plain.stdout).not.toContain('\u001b[');
    }
  }, 180_000);
});
