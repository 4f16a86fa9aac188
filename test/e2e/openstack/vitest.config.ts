import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The lab tests need the OpenStack lab (lab-up.sh) and are not part of `npm test`: their files end in .lab.ts,
// which the main config does not include. run.sh runs them one file at a time (one lab, two cores).
export default defineConfig({
  root: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..'),
  test: {
    include: ['test/e2e/openstack/**/*.lab.ts'],
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 600_000,
    allowOnly: false,
    passWithNoTests: false,
  },
});
