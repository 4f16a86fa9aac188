import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliCompute } from '../../../src/cli/context.js';
import { loadConfig } from '../../../src/config/load.js';
import { healAgent } from '../../../src/remediation/heal-agent.js';
import { parseCommandTemplate } from '../../../src/shared/command-template.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { runCommand } from '../../../src/shared/run-command.js';
import { sleep, systemClock } from '../../../src/shared/time.js';
import { runSim, type RunningSim } from '../../../src/sim/index.js';

// Host service down on a Cloudpods region: the host answers, its agent does not ping. The operator's command (an
// argv template, as `kubectl -n onecloud delete pods …` would be) restarts it; healed means the region's updated_at
// moves again with the host online, read through the Cloudpods adapter.

let sim: RunningSim;
beforeAll(async () => { sim = await runSim({ cloud: 'cloudpods', hosts: 2, instancesPerHost: 1, spares: 0, reportIntervalSeconds: 1, serviceDownTimeSeconds: 3 }); });
afterAll(async () => { await sim?.close(); });

describe('agent-down remediation on a Cloudpods region', () => {
  it('runs the operator\'s command and counts the host healed once its agent pings again and it reads online', async () => {
    const config = await loadConfig({ path: sim.configPath, env: {} });
    const compute = createCliCompute(config, silentLogger);
    await fetch(`${sim.controlUrl}/sim/hosts/compute1/host-agent/stop`, { method: 'POST' });
    // Stands in for `kubectl -n onecloud delete pods --field-selector spec.nodeName={host} -l app=default-host`.
    // (No braces in a template but its placeholders: the request options are built without an object literal.)
    const script = "fetch(process.argv[1], Object.fromEntries([['method', 'POST']])).then((r) => process.exit(r.ok ? 0 : 1))";
    const command = parseCommandTemplate(`${process.execPath} -e "${script}" ${sim.controlUrl}/sim/hosts/{host}/host-agent/start`, 'test');
    const r = await healAgent({ heartbeats: compute, run: runCommand, clock: systemClock, sleep, pollMs: 100 }, 'compute1', null,
      { command, timeoutMs: 10_000, tries: 1, retryDelayMs: 0, heartbeatWaitMs: 15_000 });
    expect(r).toMatchObject({ ok: true, host: 'compute1' });
    expect(r.tries[0]!.exitCode).toBe(0);
    expect((await compute.host('compute1')).state).toBe('up');
  });
});
