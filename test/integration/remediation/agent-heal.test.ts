import { Command } from 'commander';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { registerHostCommands } from '../../../src/cli/commands/host.js';
import { loadConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/types.js';
import { createDetector } from '../../../src/detector/detector.js';
import { createProber } from '../../../src/detector/prober.js';
import type { NotificationEvent, NotificationService } from '../../../src/notifier/types.js';
import { createOpenStack } from '../../../src/openstack/index.js';
import { createAgentRemediator } from '../../../src/remediation/agent-remediator.js';
import { healAgent, type HealResult } from '../../../src/remediation/heal-agent.js';
import { parseCommandTemplate } from '../../../src/shared/command-template.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { runCommand } from '../../../src/shared/run-command.js';
import { sleep, systemClock } from '../../../src/shared/time.js';
import { runSim, type RunningSim } from '../../../src/sim/index.js';
import { computeOf } from '../../helpers/compute.js';

// nova-compute dies on a host that still answers: the detector says agent-down and hands the host to the
// remediator, which runs the operator's command as a real child process (no shell) and watches Nova's
// heartbeat through the real client. The simulator's agent comes back only if the command starts it.

class RecordingNotifier implements NotificationService {
  readonly events: NotificationEvent[] = [];
  async notify(e: NotificationEvent) {
    this.events.push(e);
    return [];
  }
}

let sim: RunningSim;
let dir: string;
let startScript: string;

beforeAll(async () => {
  sim = await runSim({ hosts: 3, instancesPerHost: 1, spares: 0, reportIntervalSeconds: 0.5, serviceDownTimeSeconds: 2, bootSeconds: 0.1 });
  dir = mkdtempSync(path.join(tmpdir(), 'cmpha-heal-'));
  // What an operator's `systemctl restart nova-compute` does to the simulator: start its agent again.
  startScript = path.join(dir, 'start-agent.mjs');
  writeFileSync(startScript, [
    'const [url, host] = process.argv.slice(2);',
    'const r = await fetch(`${url}/sim/hosts/${encodeURIComponent(host)}/nova-compute/start`, { method: "POST" });',
    'console.log(`restarted nova-compute on ${host}: ${r.status}`);',
    'process.exit(r.ok ? 0 : 1);',
  ].join('\n'));
});
afterAll(async () => {
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const h of ['compute1', 'compute2', 'compute3']) await control(h, 'nova-compute/start');
});

async function control(host: string, action: string) {
  const r = await fetch(`${sim.controlUrl}/sim/hosts/${host}/${action}`, { method: 'POST' });
  if (!r.ok) throw new Error(`${action}: ${r.status}`);
}

async function setup(command: string, bounds: Partial<Config['remediation']> = {}) {
  const loaded = await loadConfig({ path: sim.configPath, env: {} });
  const config: Config = {
    ...loaded,
    detector: { ...loaded.detector, heartbeatTimeoutMs: 1500, heartbeatIntervalMs: 500 },
    remediation: {
      agentCommand: parseCommandTemplate(command, 'test'), timeoutMs: 5000, tries: 2, retryDelayMs: 200, heartbeatWaitMs: 4000, ...bounds,
    },
  };
  const { nova } = createOpenStack(config.cloud, { logger: silentLogger, retryBaseDelayMs: 10 });
  const notifier = new RecordingNotifier();
  const results: HealResult[] = [];
  const healer = createAgentRemediator({ config, heartbeats: computeOf(nova, { config }), notifier, logger: silentLogger, pollMs: 200, onResult: (r) => results.push(r) });
  const detector = createDetector({ config, compute: computeOf(nova, { config }), prober: createProber(config.detector, { logger: silentLogger }), notifier, healer, logger: silentLogger });
  return { config, nova, notifier, healer, detector, results };
}

/** Stops the host's agent and runs rounds until the detector calls it agent-down. */
async function agentDown(t: Awaited<ReturnType<typeof setup>>, host: string): Promise<void> {
  await t.detector.runRound();
  await control(host, 'nova-compute/stop');
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await t.detector.runRound();
    if (r.hosts.find((h) => h.host === host)?.verdict === 'agent-down') return;
    if (Date.now() > deadline) throw new Error(`${host} never became agent-down`);
    await sleep(300);
  }
}

describe('agent-down remediation against the simulated cloud', () => {
  it('a command that restarts the agent brings the heartbeat back, and nobody is paged', async () => {
    const t = await setup(`${process.execPath} ${startScript} ${sim.controlUrl} {host}`);
    await agentDown(t, 'compute1');
    await t.healer.idle();
    expect(t.results).toHaveLength(1);
    expect(t.results[0]).toMatchObject({ ok: true, host: 'compute1' });
    expect(t.results[0]!.tries[0]!.stdout).toContain('restarted nova-compute on compute1: 200');
    expect((await t.nova.listComputeServices({ host: 'compute1' }))[0]!.state).toBe('up');
    expect(t.notifier.events.filter((e) => e.type === 'agent-down')).toEqual([]);
    // Never fenced, never evacuated: the host keeps its servers and stays enabled.
    expect((await t.nova.listComputeServices({ host: 'compute1' }))[0]).toMatchObject({ status: 'enabled', forcedDown: false });
  }, 60_000);

  it('a command that fails is tried a bounded number of times and ends in a page carrying its output', async () => {
    const t = await setup(`${process.execPath} -e "console.error('unit nova-compute not found'); process.exit(5)"`, { tries: 2, heartbeatWaitMs: 1000 });
    await agentDown(t, 'compute2');
    await t.healer.idle();
    expect(t.results[0]).toMatchObject({ ok: false });
    expect(t.results[0]!.tries).toHaveLength(2);
    const pages = t.notifier.events.filter((e) => e.type === 'agent-down' && e.host === 'compute2');
    expect(pages).toHaveLength(1);
    expect(pages[0]!.details).toMatch(/did not report again after 2 run\(s\)/);
    expect(pages[0]!.details).toMatch(/run 1: .* → exit 5/);
    expect(pages[0]!.details).toContain('stderr: unit nova-compute not found');
  }, 60_000);

  it('a command that hangs is killed at its timeout, with whatever it started, and ends in a page', async () => {
    // A wrapper that forks: the grandchild would keep the output open if only the child were killed.
    const t = await setup('/bin/sh -c "sleep 30 & sleep 30"', { timeoutMs: 500, tries: 2, retryDelayMs: 100, heartbeatWaitMs: 500 });
    const started = Date.now();
    await agentDown(t, 'compute3');
    await t.healer.idle();
    expect(Date.now() - started).toBeLessThan(25_000);
    expect(t.results[0]!.tries.map((x) => x.error)).toEqual(['killed after 500 ms', 'killed after 500 ms']);
    const pages = t.notifier.events.filter((e) => e.type === 'agent-down' && e.host === 'compute3');
    expect(pages).toHaveLength(1);
    expect(pages[0]!.details).toContain('killed after 500 ms');
  }, 60_000);
});

describe('cmpha host heal HOST --yes', () => {
  it('runs the same remediation by hand: refused without --yes, then the agent reports again', async () => {
    const t = await setup(`${process.execPath} ${startScript} ${sim.controlUrl} {host}`);
    const cli = async (...args: string[]) => {
      const run = { code: -1, out: '', err: '' };
      const program = new Command().exitOverride();
      registerHostCommands(program, {
        loadConfig: async () => t.config, createLogger: () => silentLogger, compute: () => computeOf(t.nova, { config: t.config }),
        stdout: (x) => { run.out += x; }, stderr: (x) => { run.err += x; }, setExitCode: (c) => { run.code = c; },
      });
      await program.parseAsync(['node', 'cmpha', ...args]);
      return run;
    };
    await control('compute2', 'nova-compute/stop');
    const refused = await cli('host', 'heal', 'compute2');
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/refusing without --yes/);
    const healed = await cli('host', 'heal', 'compute2', '--yes');
    expect(healed.err).toBe('');
    expect(healed.code).toBe(0);
    expect(healed.out).toMatch(/nova-compute on compute2 reports again .* after 1 run\(s\)/);
    expect(healed.out).toContain(`run 1: ${process.execPath} ${startScript} ${sim.controlUrl} compute2 → exit 0`);
  }, 60_000);
});

describe('the command template and values from the cloud', () => {
  const heartbeats = { hosts: async () => [] };
  const deps = { heartbeats, run: runCommand, clock: systemClock, sleep };
  const bounds = { timeoutMs: 5000, tries: 1, retryDelayMs: 0, heartbeatWaitMs: 0 };

  it('never runs a host name through a shell: one with "; touch" is refused and nothing is touched', async () => {
    const marker = path.join(dir, 'x');
    const r = await healAgent(deps, `compute9; touch ${marker}`, '198.18.0.9', { ...bounds, command: parseCommandTemplate('/bin/echo restart {host}', 'test') });
    expect(r.ok).toBe(false);
    expect(r.tries).toEqual([]);
    expect(r.reason).toMatch(/refusing to put "compute9; touch .*" into the remediation command as \{host\}/);
    expect(existsSync(marker)).toBe(false);
  });

  it('runs the template itself without a shell: a ";" in it is an argument, not a second command', async () => {
    const marker = path.join(dir, 'y');
    const r = await healAgent(deps, 'compute9', null, { ...bounds, command: parseCommandTemplate(`/bin/echo {host};touch ${marker}`, 'test') });
    expect(r.tries[0]!.stdout.trim()).toBe(`compute9;touch ${marker}`);
    expect(existsSync(marker)).toBe(false);
  });
});
