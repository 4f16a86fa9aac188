import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_CHECKS } from '../../../src/app/config-checks.js';
import { createCliCompute } from '../../../src/cli/context.js';
import { loadConfig } from '../../../src/config/load.js';
import { runDoctor, type DoctorReport } from '../../../src/doctor/index.js';
import { createOpenStack } from '../../../src/openstack/index.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { runSim, type RunningSim } from '../../../src/sim/index.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';

// `cmpha doctor` on a Cloudpods region: the region's own auto-migration must be off on every protected host (else
// two controllers move the same guests, one of them without a fence), the guests' disks on shared storage, and the
// spares must have room (the region's commit figures).

let redisServer: RedisServer;
let sim: RunningSim;
beforeAll(async () => {
  redisServer = await startRedis();
  sim = await runSim({ cloud: 'cloudpods', hosts: 2, instancesPerHost: 2, spares: 1 });
  writeFileSync(sim.configPath, `${readFileSync(sim.configPath, 'utf8')}\n[redis]\nurl = ${redisServer.url}\nprefix = doctor-cloudpods-${process.pid}\n`);
});
afterAll(async () => {
  await sim?.close();
  await redisServer?.stop();
});

async function doctor(): Promise<DoctorReport> {
  const config = await loadConfig({ path: sim.configPath, env: {}, checks: CONFIG_CHECKS });
  return runDoctor(config, { logger: silentLogger, compute: createCliCompute(config, silentLogger) });
}

const check = (r: DoctorReport, name: string) => r.checks.find((c) => c.name === name);

describe('cmpha doctor on a Cloudpods region', () => {
  it('passes the region\'s own settings when auto-migration is off and the disks are shared; counts the spare\'s room', async () => {
    const r = await doctor();
    expect(check(r, 'cloud:auto-migrate')).toMatchObject({ status: 'ok' });
    expect(check(r, 'cloud:storage')).toMatchObject({ status: 'ok' });
    expect(check(r, 'spares:zone0')).toMatchObject({ status: 'ok', detail: expect.stringMatching(/spare1/) });
    expect(check(r, 'nova')?.detail).toMatch(/Cloudpods region/);
  });

  it('fails while the region would migrate a protected host\'s guests itself, and warns of a guest on local storage', async () => {
    const config = await loadConfig({ path: sim.configPath, env: {} });
    const os = createOpenStack(config.cloud, { logger: silentLogger });
    const [h] = await os.region.listHosts({ name: 'compute2' });
    await os.region.hostAction(h!.id, 'auto-migrate-on-host-down', { auto_migrate_on_host_down: 'enable' });
    const guest = sim.world.serverList.find((s) => s.host === 'compute1')!;
    sim.http.cloudpods.localDisks.add(guest.id);
    const r = await doctor();
    expect(check(r, 'cloud:auto-migrate')).toMatchObject({ status: 'fail', detail: expect.stringMatching(/compute2 .*no power fence/) });
    expect(check(r, 'cloud:storage')).toMatchObject({ status: 'warn', detail: expect.stringContaining(`${guest.name} on compute1`) });
    expect(r.ok ?? r.checks.every((c) => c.status !== 'fail')).toBe(false);
  });
});
