import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_CHECKS } from '../../../src/app/config-checks.js';
import { loadConfig } from '../../../src/config/load.js';
import { Secret } from '../../../src/config/secret.js';
import { runDoctor } from '../../../src/doctor/index.js';
import type { BmcLookup } from '../../../src/fencing/resolve-bmc.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { runSim, type RunningSim } from '../../../src/sim/index.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { createCliCompute } from '../../../src/cli/context.js';

// What `doctor` says about the configuration itself: an empty instance-IP veto, and BMC names, resolved as the
// controller resolves them at start. A table stands in for DNS: nothing is asked off this machine.

let sim: RunningSim;
let redisServer: RedisServer;
beforeAll(async () => {
  redisServer = await startRedis();
  sim = await runSim({ hosts: 2, instancesPerHost: 1, spares: 1, maxMicroversion: '2.87' });
  const text = readFileSync(sim.configPath, 'utf8').replace(/^instance_networks = .*\n/m, '');
  writeFileSync(sim.configPath, `${text}\n[redis]\nurl = ${redisServer.url}\nprefix = doctor-cfg-${process.pid}\n`);
});
afterAll(async () => {
  await sim?.close();
  await redisServer?.stop();
});

describe('cmpha doctor: configuration checks', () => {
  it('warns that the instance-IP veto is empty and reports BMC names that do and do not resolve', async () => {
    const config = await loadConfig({ path: sim.configPath, env: {}, checks: CONFIG_CHECKS });
    const ipmi = { interface: 'lanplus', cipherSuite: 3, timeoutS: 1, retries: 0 } as const;
    const named = (name: string, bmc: string) => ({ name, ...(config.hosts[name]?.mgmtIp ? { mgmtIp: config.hosts[name]!.mgmtIp } : {}), fence: { driver: 'ipmi' as const, address: bmc, port: 1, username: 'admin', password: new Secret('pw'), ipmi } });
    const asked: string[] = [];
    const lookup: BmcLookup = async (name) => {
      asked.push(name);
      if (name === 'bmc-1.example.com') return '127.0.0.1';
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    };
    const report = await runDoctor({ ...config, hosts: { ...config.hosts, compute1: named('compute1', 'bmc-1.example.com'), compute2: named('compute2', 'bmc-2.example.com') } }, { logger: silentLogger, compute: createCliCompute(config, silentLogger), bmcLookup: lookup, smtp: false });
    expect(asked.sort()).toEqual(['bmc-1.example.com', 'bmc-2.example.com']);
    expect(report.checks).toEqual(expect.arrayContaining([
      { name: 'config', status: 'warn', detail: expect.stringMatching(/^\[detector\] instance_networks is empty: no instance IP can veto a fence/) },
      { name: 'bmc-dns', status: 'fail', detail: expect.stringMatching(/\[host:compute2\] address: BMC name "bmc-2\.example\.com" does not resolve .*will not be evacuated/) },
      { name: 'bmc-dns', status: 'ok', detail: '1 BMC name(s) resolve: bmc-1.example.com → 127.0.0.1' },
    ]));
    // The unresolved host counts as a host without fencing.
    expect(report.hosts.find((h) => h.host === 'compute2')!.status).toBe('fail');
    expect(report.ok).toBe(false);
  }, 60_000);
});
