import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

// The layer rules of docs/architecture.md, as `npm run lint` enforces them.
const eslint = new ESLint({ cwd: process.cwd() });

async function restricted(filePath: string, code: string): Promise<string[]> {
  const [res] = await eslint.lintText(code, { filePath });
  return res!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('layer rules', () => {
  it('only src/openstack speaks HTTP to the cloud', async () => {
    expect(await restricted('src/pipeline/x.ts', "import axios from 'axios';\nexport const a = axios;\n")).toEqual([expect.stringMatching(/only src\/openstack/)]);
    expect(await restricted('src/evacuator/x.ts', "import axios from 'axios';\nexport const a = axios;\n")).toHaveLength(1);
    expect(await restricted('src/openstack/x.ts', "import axios from 'axios';\nexport const a = axios;\n")).toEqual([]);
    // The bounded transport: the cloud client, Redfish and webhooks only.
    const transport = "import { exchange } from '../shared/http-exchange.js';\nexport const e = exchange;\n";
    expect(await restricted('src/pipeline/x.ts', transport)).toEqual([expect.stringMatching(/only src\/openstack/)]);
    expect(await restricted('src/detector/x.ts', transport)).toHaveLength(1);
    expect(await restricted('src/openstack/x.ts', transport)).toEqual([]);
    expect(await restricted('src/fencing/x.ts', transport)).toEqual([]);
    expect(await restricted('src/notifier/x.ts', transport)).toEqual([]);
  });

  it('only src/pipeline imports bullmq', async () => {
    expect(await restricted('src/detector/x.ts', "import { Queue } from 'bullmq';\nexport const q = Queue;\n")).toEqual([expect.stringMatching(/only src\/pipeline/)]);
    expect(await restricted('src/app/controller.ts', "import { Queue } from 'bullmq';\nexport const q = Queue;\n")).toHaveLength(1);
    expect(await restricted('src/pipeline/x.ts', "import { Queue } from 'bullmq';\nexport const q = Queue;\n")).toEqual([]);
  });

  it('the detector never imports the pipeline or the evacuator', async () => {
    expect(await restricted('src/detector/x.ts', "import { createRecovery } from '../pipeline/create-recovery.js';\nexport const c = createRecovery;\n")).toHaveLength(1);
    expect(await restricted('src/detector/x.ts', "import { planSpares } from '../evacuator/spare-plan.js';\nexport const p = planSpares;\n")).toHaveLength(1);
  });

  it('src/sim is imported only by the demo and the CLI', async () => {
    const code = "import { runSim } from '../sim/sim-server.js';\nexport const r = runSim;\n";
    expect(await restricted('src/pipeline/x.ts', code)).toHaveLength(1);
    expect(await restricted('src/app/controller.ts', code)).toHaveLength(1);
    expect(await restricted('src/app/demo.ts', code)).toEqual([]);
    expect(await restricted('src/cli/commands/x.ts', "import { runSim } from '../../sim/sim-server.js';\nexport const r = runSim;\n")).toEqual([]);
  });

  it('outside src/openstack only the Nova adapter and the composition root import NovaApi, and only the root picks the adapter', async () => {
    const novaApi = (up: string) => `import type { NovaApi } from '${up}openstack/types.js';\nexport type N = NovaApi;\n`;
    for (const f of ['src/detector/x.ts', 'src/evacuator/x.ts', 'src/pipeline/x.ts', 'src/remediation/x.ts', 'src/doctor/x.ts', 'src/fencing/x.ts', 'src/compute/x.ts']) {
      expect(await restricted(f, novaApi('../')), f).toEqual([expect.stringMatching(/only the Nova adapter .* and the composition root import NovaApi/)]);
    }
    expect(await restricted('src/pipeline/steps/x.ts', novaApi('../../')), 'steps').toHaveLength(1);
    expect(await restricted('src/cli/commands/x.ts', novaApi('../../')), 'cli commands').toHaveLength(1);
    expect(await restricted('src/evacuator/x.ts', "import { NovaClient } from '../openstack/index.js';\nexport const c = NovaClient;\n")).toHaveLength(1);
    // Other types from src/openstack stay importable (the Ceph fence reads volumes).
    expect(await restricted('src/fencing/x.ts', "import type { VolumeApi } from '../openstack/types.js';\nexport type V = VolumeApi;\n")).toEqual([]);
    for (const f of ['src/compute/nova/x.ts', 'src/app/x.ts', 'src/openstack/x.ts']) expect(await restricted(f, novaApi(f.startsWith('src/compute/nova') ? '../../' : '../')), f).toEqual([]);
    const adapter = (up: string) => `import { novaBackend } from '${up}compute/nova/index.js';\nexport const b = novaBackend;\n`;
    expect(await restricted('src/pipeline/x.ts', adapter('../'))).toEqual([expect.stringMatching(/only the composition root .* picks the compute adapter/)]);
    expect(await restricted('src/detector/x.ts', adapter('../'))).toHaveLength(1);
    expect(await restricted('src/cli/commands/x.ts', adapter('../../'))).toHaveLength(1);
    expect(await restricted('src/cli/context.ts', adapter('../'))).toEqual([]);
    expect(await restricted('src/app/x.ts', adapter('../'))).toEqual([]);
    // The Cloudpods adapter likewise: picked by the root only, and it never reaches for Nova.
    const cloudpods = (up: string) => `import { cloudpodsBackend } from '${up}compute/cloudpods/index.js';\nexport const b = cloudpodsBackend;\n`;
    for (const f of ['src/pipeline/x.ts', 'src/detector/x.ts', 'src/evacuator/x.ts', 'src/doctor/x.ts', 'src/remediation/x.ts']) {
      expect(await restricted(f, cloudpods('../')), f).toEqual([expect.stringMatching(/only the composition root .* picks the compute adapter/)]);
    }
    expect(await restricted('src/app/x.ts', cloudpods('../'))).toEqual([]);
    expect(await restricted('src/compute/cloudpods/x.ts', novaApi('../../'))).toHaveLength(1);
  });
});
