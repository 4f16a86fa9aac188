// The same Nova contract against the project's simulator, with the same timings of the lab's Nova (10 s
// reports, 60 s down time), so its answers can be compared with the real Zed lab's (contract-lab.json).
import path from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { runSim, type RunningSim } from '../../../src/sim/index.js';
import { contractSteps, type ContractTarget } from './contract-scenario.js';
import { LAB_DIR } from './lab.js';
import { OsRest, request } from './os-rest.js';

let sim: RunningSim;
let target: ContractTarget;

async function control<T>(method: string, p: string, body?: unknown): Promise<T> {
  const r = await request<T>(method, `${sim.controlUrl}${p}`, body === undefined ? {} : { body });
  if (r.status >= 300) throw new Error(`simulator ${method} ${p} → ${r.status} ${r.text}`);
  return r.body;
}

describe('Nova contract: the simulator', () => {
  beforeAll(async () => {
    sim = await runSim({ hosts: 2, spares: 1, instancesPerHost: 0, reportIntervalSeconds: 10, serviceDownTimeSeconds: 60 });
    const creds = await control<{ admin: { username: string; password: string; project_name: string; user_domain_name: string; project_domain_name: string } }>('GET', '/sim/credentials');
    const credentials = {
      authUrl: sim.authUrl, username: creds.admin.username, password: creds.admin.password, projectName: creds.admin.project_name,
      userDomainName: creds.admin.user_domain_name, projectDomainName: creds.admin.project_domain_name,
    };
    const rest = new OsRest(credentials);
    await rest.authenticate();
    target = {
      name: 'sim',
      credentials,
      source: 'compute1',
      dest: 'compute2',
      rest,
      async bootServer(name, host, group) {
        const r = await control<{ server: { id: string } }>('POST', '/sim/servers', { name, host, ...(group ? { group } : {}) });
        return r.server.id;
      },
      async createAntiAffinityGroup(name) {
        const r = await rest.novaOk<{ server_group: { id: string } }>('POST', '/os-server-groups', { server_group: { name, policy: 'anti-affinity' } }, '2.64');
        return r.server_group.id;
      },
      async stopCompute(host) { await control('POST', `/sim/hosts/${host}/nova-compute/stop`); },
      async startCompute(host) { await control('POST', `/sim/hosts/${host}/nova-compute/start`); },
      async deleteServer(id) {
        const r = await rest.nova('DELETE', `/servers/${id}`);
        // A simulator without server deletion is not a contract failure; the world is thrown away anyway.
        if (r.status >= 500) throw new Error(`DELETE /servers/${id} → ${r.status}`);
      },
    };
  }, 60_000);

  afterAll(async () => { await sim?.close(); });

  contractSteps(() => target, path.join(LAB_DIR, 'state/contract-sim.json'));
});
