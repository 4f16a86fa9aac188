import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessGroup, waitForLine } from '../../helpers/processes.js';
import { cloudpodsSuite, isMigrate } from './cloudpods-world.js';
import { waitClosed, waitFor } from './world.js';

// A controller killed mid-migration on a Cloudpods region, as crash-resume.test.ts does it on OpenStack: the
// recovery runs in a child process built by the composition root (`cmpha run`'s wiring, the cloud picked from
// [cloud] type), SIGKILLed once the region has accepted its first migrate; a new controller takes the incident up
// and never migrates a guest twice (the region would accept a second rescue-mode migrate while one runs).

const suite = cloudpodsSuite();
const group = new ProcessGroup();
let dir: string | undefined;

afterEach(async () => {
  await group.stopAll();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('a controller killed mid-migration on a Cloudpods region', () => {
  it('SIGKILLed after the first migrate call: a new controller resumes, every guest is migrated once and runs on the spare', async () => {
    const w = await suite.world({ hosts: 3, instancesPerHost: 4, spares: 1, evacuateSeconds: 1, evacuation: { concurrency: 1 } });
    const guests = (await w.guestsOn('compute1')).filter((g) => g.status === 'ACTIVE');
    expect(guests.length).toBeGreaterThan(1);
    await w.control('compute1', 'power-off');
    await w.waitSilent('compute1');
    dir = mkdtempSync(path.join(tmpdir(), 'cmpha-cp-crash-'));
    const spec = path.join(dir, 'spec.json');
    writeFileSync(spec, JSON.stringify({
      configPath: w.sim.configPath, redisUrl: suite.redisUrl, prefix: w.config.redis.prefix,
      evacuation: { concurrency: 1, verifyPollIntervalMs: 100, verifyTimeoutMs: 60_000, staggerMs: 0, maxPerMinute: 10_000 },
      fencing: { timeoutMs: 5000, pollIntervalMs: 100, attempts: 2 },
      tuning: { lockDurationMs: 30_000, stalledIntervalMs: 30_000, backoffMs: 200, unknownSettleMs: 1500 },
    }));
    const start = async () => {
      const child = group.start(process.execPath, ['--import', 'tsx', 'test/helpers/recovery-worker.ts', spec], { cwd: process.cwd() });
      await waitForLine(child, /recovery worker \d+ ready \(/, 60_000);
      return child;
    };
    // This process only opens the incident (which queues it); the controllers run in the children.
    const r = w.recovery(suite.redis);
    const first = await start();
    await r.opener.open({ id: 'cp-crash-1', host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
    await waitFor('the region to accept the first migrate', async () => (await w.calls()).some(isMigrate), 60_000, 20);
    await group.stop(first, 'SIGKILL');
    const migratedBefore = (await w.calls()).filter(isMigrate).length;
    expect(migratedBefore).toBeLessThan(guests.length);
    await start();

    const inc = await waitClosed(r, 'cp-crash-1', 90_000);
    expect(inc.status).toBe('resolved');
    // Every guest that ran (and any still booting when the power went) is verified on the spare, migrated once.
    const verified = inc.instances.filter((e) => e.state === 'verified').map((e) => e.id);
    expect(verified).toEqual(expect.arrayContaining(guests.map((g) => g.id)));
    for (const id of verified) {
      expect(await w.migrateCalls(id), `migrate calls for ${id}`).toHaveLength(1);
      expect(await w.compute.guest(id)).toMatchObject({ host: 'spare1', status: 'ACTIVE', vmState: 'running' });
    }
    // The incident's own timeline says the recovery was resumed by the new controller.
    expect(inc.timeline.filter((e) => e.step === 'resume').map((e) => e.message))
      .toContainEqual(expect.stringMatching(/^recovery resumed: controller .+ \(pid \d+\) started with this incident open and takes it up where it stopped$/));
  }, 180_000);
});
