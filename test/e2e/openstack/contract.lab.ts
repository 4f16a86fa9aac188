// The Nova contract against the real Zed lab (lab-up.sh must have run). What Nova answered is written to
// $CMPHA_LAB_DIR/state/contract-lab.json for comparison with the simulator's run.
import path from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { contractSteps, type ContractTarget } from './contract-scenario.js';
import { LabNova, labHost, readLab, resetLab } from './lab.js';

let target: ContractTarget;
let nova: LabNova;
const lab = readLab();

describe('Nova contract: real OpenStack Zed lab', () => {
  beforeAll(async () => {
    nova = await LabNova.connect(lab);
    // A scenario left half-done by an earlier run would change the answers: start from the lab's baseline.
    await resetLab(nova);
    target = {
      name: 'lab',
      credentials: lab.admin,
      source: 'compute1',
      dest: 'compute2',
      rest: nova.rest,
      bootServer: async (name, host, group) => (await nova.boot(name, host, group ? { group } : {})).id,
      createAntiAffinityGroup: (name) => nova.createGroup(name, 'anti-affinity'),
      stopCompute: async (host) => { await labHost('compute-stop', host); },
      startCompute: async (host) => { await labHost('compute-start', host); },
      deleteServer: (id) => nova.deleteServer(id),
    };
  }, 300_000);

  afterAll(async () => {
    await labHost('compute-start', 'compute1');
  });

  contractSteps(() => target, path.join(lab.dir, 'state/contract-lab.json'));
});
