import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';

const dir = mkdtempSync(path.join(tmpdir(), 'cmpha-queue-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const CLOUD = '[cloud]\nauth_url = http://127.0.0.1:5000/v3\nusername = admin\npassword = pw\nuser_domain_name = Default\nproject_name = admin\n';

async function load(text: string) {
  const p = path.join(dir, `c${Math.random().toString(36).slice(2)}.conf`);
  writeFileSync(p, text);
  return loadConfig({ path: p, env: {} });
}

describe('queue timings', () => {
  it('default to 30 s and are set in [redis] as durations', async () => {
    expect((await load(CLOUD)).redis).toMatchObject({ jobLockMs: 30_000, stalledCheckMs: 30_000 });
    expect((await load(`${CLOUD}[redis]\njob_lock = 10s\nstalled_check = 5s\n`)).redis).toMatchObject({ jobLockMs: 10_000, stalledCheckMs: 5000 });
  });

  it('refuse a lock shorter than a second, naming the key', async () => {
    await expect(load(`${CLOUD}[redis]\njob_lock = 200ms\n`)).rejects.toThrow(/job_lock/);
  });
});
