import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_CHECKS } from '../../../src/app/config-checks.js';
import { loadConfig } from '../../../src/config/load.js';
import { runDoctor, type DoctorReport } from '../../../src/doctor/index.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { runSim, type RunningSim, type SimOptions } from '../../../src/sim/index.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { createCliCompute } from '../../../src/cli/context.js';

// `cmpha doctor` at the simulator's default compute microversion 2.93, where Nova reports no usage and spare
// capacity comes from Placement.

const sims: RunningSim[] = [];
let redisServer: RedisServer;

beforeAll(async () => {
  redisServer = await startRedis();
});

afterAll(async () => {
  for (const s of sims) await s.close();
  await redisServer?.stop();
});

let prefixes = 0;
async function doctorOn(opts: SimOptions, edit: (text: string) => string = (t) => t): Promise<DoctorReport> {
  const sim = await runSim({ hosts: 3, instancesPerHost: 3, spares: 1, ...opts });
  sims.push(sim);
  const text = readFileSync(sim.configPath, 'utf8').replace('[evacuation]\n', '[evacuation]\nshared_storage = true\n');
  writeFileSync(sim.configPath, `${edit(text)}\n[redis]\nurl = ${redisServer.url}\nprefix = doctor-pl-${process.pid}-${++prefixes}\n`);
  const config = await loadConfig({ path: sim.configPath, env: {}, checks: CONFIG_CHECKS });
  return runDoctor(config, { logger: silentLogger, compute: createCliCompute(config, silentLogger) });
}

const check = (r: DoctorReport, name: string) => r.checks.find((c) => c.name === name);

describe('cmpha doctor with capacity from Placement (compute 2.93)', () => {
  it('a spare too small: the zone\'s spare check and that host FAIL, with Placement\'s free figures', async () => {
    // 6 vCPU per host, no overcommit: Placement says spare1 has 6 vCPU free; compute1 carries 7 vCPU of servers.
    const r = await doctorOn({ hostVcpus: 6, cpuAllocationRatio: 1 });
    expect(check(r, 'nova')!.detail).toMatch(/^compute API microversion 2\.93 /);
    expect(r.ok).toBe(false);
    expect(check(r, 'spares:nova')).toMatchObject({ status: 'fail' });
    // RAM: (131072 − 512 reserved) × 1.0 − 0 used
    expect(check(r, 'spares:nova')!.detail).toMatch(/^spare\(s\) too small for compute1.*: spare1 \(free 6 vCPU, 130560 MB\)/);
    const compute1 = r.hosts.find((h) => h.host === 'compute1')!;
    expect(compute1.status).toBe('fail');
    expect(compute1.problems.map((p) => p.detail).join('\n')).toMatch(/server\(s\) \(7 vCPU, 14336 MB in all\) fit on no spare in zone nova/);
  });

  it('a spare large enough by Placement\'s allocation ratio: OK, no "cannot be told" warning', async () => {
    const r = await doctorOn({});
    expect(check(r, 'spares:nova')).toMatchObject({ status: 'ok' });
    // VCPU (32 − 0) × 4 − 0 = 128
    expect(check(r, 'spares:nova')!.detail).toMatch(/^spare1 \(free 128 vCPU, 130560 MB\); largest host compute\d needs /);
  });

  it('Placement failing: the hypervisor\'s figures (read at 2.87) judge the spare instead; never a crash', async () => {
    const r = await doctorOn(
      { faults: { errorRate: 1, services: ['placement'] } },
      (t) => t.replace('[cloud]\n', '[cloud]\napi_retries = 0\n'),
    );
    expect(check(r, 'nova')).toMatchObject({ status: 'ok' });
    const spares = check(r, 'spares:nova')!;
    expect(spares.status).toBe('ok');
    // 32 vCPU without the allocation ratio Placement would have applied.
    expect(spares.detail).toMatch(/^spare1 \(free 32 vCPU, /);
  });
});
