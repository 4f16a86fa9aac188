import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { registerEvacuateCommands } from '../../../src/cli/commands/evacuate.js';
import { loadConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/types.js';
import { IncidentStore } from '../../../src/incidents/incident-store.js';
import { createIncidentOpener } from '../../../src/incidents/opener.js';
import { createOpenStack } from '../../../src/openstack/index.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { systemClock } from '../../../src/shared/time.js';
import { runSim, type RunningSim } from '../../../src/sim/index.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { newRedis } from '../../unit/pipeline/harness.js';
import { isEvacuate, isForceOff, isServicePut, waitFor } from '../pipeline/world.js';
import type { RecordedCall } from '../../../src/sim/index.js';

// `cmpha evacuate` run alone (no controller leads) takes the lease and runs every open incident, the one it
// follows included. It must judge a host's life exactly as `cmpha run` does: by probing its addresses (real fping
// into the simulator's network namespaces), not by Nova's heartbeat against this machine's clock. A host whose
// nova-compute died while the host itself answers is not dead, and is never fenced, whichever process runs the job.

const IP_BLOCK = 180 + Math.floor(Math.random() * 20);

let redisServer: RedisServer;
let sim: RunningSim | undefined;
beforeAll(async () => { redisServer = await startRedis(); });
afterEach(async () => { await sim?.close(); sim = undefined; });
afterAll(async () => { await redisServer?.stop(); });

async function calls(s: RunningSim): Promise<RecordedCall[]> {
  return (await (await fetch(`${s.controlUrl}/sim/calls`)).json()) as RecordedCall[];
}

describe('cmpha evacuate judges liveness as cmpha run does', () => {
  it('an open incident for a host whose management address answers (its nova-compute dead): run alone, the command refuses to fence it', async () => {
    sim = await runSim({ hosts: 2, instancesPerHost: 2, spares: 1, reportIntervalSeconds: 0.5, serviceDownTimeSeconds: 2, bootSeconds: 0.1, netns: true, ipBlock: IP_BLOCK });
    const loaded = await loadConfig({ path: sim.configPath, env: {} });
    const config: Config = {
      ...loaded,
      detector: { ...loaded.detector, probe: 'fping', probeCount: 1, probeTimeoutMs: 300, probePacketIntervalMs: 1 },
      fencing: { ...loaded.fencing, timeoutMs: 5000, pollIntervalMs: 100, attempts: 2 },
      redis: { ...loaded.redis, url: redisServer.url, prefix: `evac-live-${process.pid}` },
    };
    const { nova } = createOpenStack(config.cloud, { logger: silentLogger });
    await fetch(`${sim.controlUrl}/sim/hosts/compute1/nova-compute/stop`, { method: 'POST' });
    await waitFor('Nova to see compute1 down', async () => (await nova.listComputeServices({ host: 'compute1' }))[0]?.state === 'down', 15_000);

    // The incident a detector opened for compute1 and a controller that stopped left open (queued, not yet run).
    const redis = newRedis(redisServer.url);
    try {
      const store = new IncidentStore(redis, config.redis.prefix, systemClock);
      const opener = createIncidentOpener({ store, submit: async () => undefined, abortWaiting: async () => false });
      await opener.open({ id: 'compute1-left-open', host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
      const before = (await calls(sim)).length;

      const run = { code: -1, out: '', err: '' };
      const program = new Command('cmpha').exitOverride();
      registerEvacuateCommands(program, {
        loadConfig: async () => config,
        createLogger: () => silentLogger,
        stdout: (t) => { run.out += t; },
        stderr: (t) => { run.err += t; },
        setExitCode: (c) => { run.code = c; },
      });
      await program.parseAsync(['node', 'cmpha', 'evacuate', 'compute1', '--yes', '--timeout', '90s']);

      expect(run.err).toBe('');
      expect(run.out).toMatch(/no cmpha controller leads: this command holds the leader lease/);
      expect(run.out).toMatch(/compute1 already has an open incident compute1-left-open; following it/);
      const rec = await store.getRecord('compute1-left-open');
      expect(rec?.status).toBe('aborted');
      expect(rec?.fence).toBeFalsy();
      expect(run.out).toMatch(/compute1 answers again/);
      expect(run.code).toBe(1);
      const since = (await calls(sim)).slice(before);
      expect(since.filter((c) => isForceOff(c) || isServicePut(c) || isEvacuate(c))).toEqual([]);
    } finally {
      redis.disconnect();
    }
  }, 180_000);
});
