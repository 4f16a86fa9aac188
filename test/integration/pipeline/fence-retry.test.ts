import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { fenceDriversFromConfig } from '../../../src/app/fence-parts.js';
import { watchFenceSettings } from '../../../src/app/fence-retry-watch.js';
import { LiveFencing } from '../../../src/app/live-fencing.js';
import { composeRecovery, type RecoveryWorker } from '../../../src/app/root.js';
import { registerFenceCommands } from '../../../src/cli/commands/fence.js';
import { loadConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/types.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { configTexts, CLOUD } from '../../helpers/config-text.js';
import { IpmiSimLab, type SimulatedBmc } from '../../helpers/ipmi-sim.js';
import { FAST_QUEUE, pipelineSuite, waitClosed, type PipelineWorld } from './world.js';

// A BMC whose password in the config is wrong: the incident waits for a fence; once the password is fixed in the
// config the fence is tried again (by `cmpha fence retry`, or by the controller seeing the change) and succeeds.

const s = pipelineSuite();
const lab = new IpmiSimLab();
const texts = configTexts();
afterAll(async () => { await lab.stopAll(); texts.remove(); });

/** compute1's section as an operator edits it, fenced by the ipmi_sim BMC with `password`. */
function writeHost(file: string, bmc: SimulatedBmc, password: string): void {
  writeFileSync(file, `${CLOUD}[host:compute1]\ndriver = ipmi\naddress = 127.0.0.1\nport = ${bmc.port}\nusername = admin\npassword = ${password}\nipmi_cipher_suite = 3\n`);
}

/** The world's recovery, its compute1 fenced through ipmi_sim with the settings the file has when a fence runs. */
async function recoveryReadingFile(w: PipelineWorld, file: string) {
  const reread = async (): Promise<Config> => {
    const fromFile = await loadConfig({ path: file, env: {}, cwd: texts.dir });
    return { ...w.config, hosts: { ...w.config.hosts, compute1: fromFile.hosts.compute1! } };
  };
  const fencing = new LiveFencing(await reread(), reread, silentLogger);
  const r = w.recovery(s.redis, {
    fenceDriverFor: fenceDriversFromConfig(() => fencing.current(), silentLogger),
    refreshFencing: async (host) => (await fencing.refresh()).includes(host),
  });
  await r.startWorkers();
  return { r, fencing };
}

async function waitingForFence(w: PipelineWorld, r: Awaited<ReturnType<typeof recoveryReadingFile>>['r'], id: string) {
  await w.control('compute1', 'power-off');
  await w.waitNovaDown('compute1');
  await r.opener.open({ id, host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
  const waiting = await waitClosed(r, id, 45_000, ['awaiting_fence']);
  expect(waiting).toMatchObject({ status: 'awaiting_fence', error: { code: 'bmc_auth_failed' } });
}

describe('fence retry after the BMC password is fixed in the config', () => {
  it('wrong password → awaiting_fence → password fixed → cmpha fence retry → fenced and recovered', async () => {
    const w = await s.world({ hosts: 2, instancesPerHost: 2, spares: 1 });
    const bmc = await lab.start({ power: 'on', password: 'right-pass-42' });
    const file = path.join(texts.dir, 'retry-cli.conf');
    writeHost(file, bmc, 'wrong-pass-42');
    const { r } = await recoveryReadingFile(w, file);
    await waitingForFence(w, r, 'retry-cli');
    expect(bmc.power()).toBe('on');

    writeHost(file, bmc, 'right-pass-42');
    const run = { code: -1, out: '', err: '' };
    const program = new Command('cmpha').exitOverride();
    registerFenceCommands(program, {
      loadFullConfig: async () => w.config, createLogger: () => silentLogger, user: () => 'alice',
      startWorker: (config, logger) => composeRecovery(config, { logger, notifier: w.notifier, queue: FAST_QUEUE }),
      stdout: (t) => { run.out += t; }, stderr: (t) => { run.err += t; }, setExitCode: (c) => { run.code = c; },
    });
    await program.parseAsync(['node', 'cmpha', 'fence', 'retry', 'compute1']);
    expect(run).toMatchObject({ code: 0, out: expect.stringMatching(/compute1: fence of incident retry-cli tried again/) });

    const inc = await waitClosed(r, 'retry-cli', 60_000);
    expect(inc.status).toBe('resolved');
    expect(inc.fence).toMatchObject({ driver: 'ipmi', unfenced: false });
    expect(bmc.power()).toBe('off');
    const tl = inc.timeline.map((t) => t.message).join('\n');
    expect(tl).toMatch(/fence retried by alice: asked with cmpha fence retry/);
    expect(tl).toMatch(/compute1's fence settings were read again from the config: they changed/);
    expect(tl).not.toMatch(/never finished/);
    expect(JSON.stringify(inc)).not.toContain('right-pass-42');

    // Nothing waits any more: a second retry is refused, naming why.
    const again = { code: -1, err: '' };
    const p2 = new Command('cmpha').exitOverride();
    registerFenceCommands(p2, {
      loadFullConfig: async () => w.config, createLogger: () => silentLogger, user: () => 'alice',
      startWorker: (config, logger) => composeRecovery(config, { logger, notifier: w.notifier, queue: FAST_QUEUE }),
      stdout: () => undefined, stderr: (t) => { again.err += t; }, setExitCode: (c) => { again.code = c; },
    });
    await p2.parseAsync(['node', 'cmpha', 'fence', 'retry', 'compute1']);
    expect(again).toMatchObject({ code: 1, err: 'cmpha fence retry: no incident of compute1 waits for a fence: it has no open incident\n' });
  });

  it('the controller sees the password change in the config and retries the waiting incident by itself', async () => {
    const w = await s.world({ hosts: 2, instancesPerHost: 1, spares: 1 });
    const bmc = await lab.start({ power: 'on', password: 'right-pass-43' });
    const file = path.join(texts.dir, 'retry-watch.conf');
    writeHost(file, bmc, 'wrong-pass-43');
    const { r, fencing } = await recoveryReadingFile(w, file);
    const watch = watchFenceSettings({ ...r, fencing } as unknown as RecoveryWorker, { logger: silentLogger, everyMs: 3_600_000, isLeader: () => true });
    try {
      await waitingForFence(w, r, 'retry-watch');
      // Nothing changed yet: nothing is retried.
      expect(await watch.tick()).toEqual([]);
      writeHost(file, bmc, 'right-pass-43');
      expect(await watch.tick()).toEqual(['compute1']);
      const inc = await waitClosed(r, 'retry-watch', 60_000);
      expect(inc.status).toBe('resolved');
      expect(bmc.power()).toBe('off');
      expect(inc.timeline.map((t) => t.message).join('\n')).toMatch(/fence retried by cmpha: its fence settings changed in the config/);
    } finally {
      watch.stop();
    }
  });
});
