import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerDrainCommands } from '../../../src/cli/commands/drain.js';
import { registerEvacuateCommands } from '../../../src/cli/commands/evacuate.js';
import { registerHostCommands } from '../../../src/cli/commands/host.js';
import { registerIncidentCommands } from '../../../src/cli/commands/incidents.js';
import { getAcknowledgement } from '../../../src/notifier/ack.js';
import { composeRecovery } from '../../../src/app/root.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { FAST_QUEUE, isEvacuate, isForceOff, isServicePut, pipelineSuite, type PipelineWorld } from './world.js';
import { computeOf } from '../../helpers/compute.js';

// The operator commands, run in this process against the simulated cloud and a real Redis.

const suite = pipelineSuite();

interface Run { code: number; out: string; err: string }

async function cmpha(world: PipelineWorld, ...args: string[]): Promise<Run> {
  const run: Run = { code: -1, out: '', err: '' };
  const io = {
    loadConfig: async () => world.config,
    createLogger: () => silentLogger,
    stdout: (t: string) => { run.out += t; },
    stderr: (t: string) => { run.err += t; },
    setExitCode: (c: number) => { run.code = c; },
  };
  const program = new Command('cmpha').exitOverride();
  registerIncidentCommands(program, io);
  registerEvacuateCommands(program, {
    ...io, startWorker: (config, logger) => composeRecovery(config, { logger, notifier: world.notifier, queue: FAST_QUEUE }),
  });
  registerDrainCommands(program, { ...io, compute: () => computeOf(world.nova, { config: world.config }) });
  registerHostCommands(program, { ...io, compute: () => computeOf(world.nova, { config: world.config }) });
  await program.parseAsync(['node', 'cmpha', ...args]);
  return run;
}

describe('operator commands', () => {
  it('evacuate → incidents → show → ack → host restore, on a live host', async () => {
    const w = await suite.world({ hosts: 3, instancesPerHost: 4, spares: 1 });
    const movable = (await w.serversOn('compute1')).filter((s) => ['ACTIVE', 'ERROR'].includes(s.status));

    expect(await cmpha(w, 'evacuate', 'compute1')).toMatchObject({ code: 2, err: expect.stringMatching(/refusing without --yes/) });
    expect((await w.calls()).filter((c) => c.service !== 'keystone')).toEqual([]);

    const ev = await cmpha(w, 'evacuate', 'compute1', '--yes');
    expect(ev.err).toBe('');
    expect(ev.code).toBe(0);
    const id = /incident (compute1-op-\d{8}T\d{6}Z) opened/.exec(ev.out)![1]!;
    expect(ev.out).toMatch(/liveness re-check skipped: evacuation requested by an operator/);
    expect(ev.out).toMatch(new RegExp(`incident ${id}: host compute1, RESOLVED`));
    const calls = await w.calls();
    const forceOff = calls.findIndex(isForceOff);
    expect(forceOff).toBeGreaterThanOrEqual(0);
    expect(calls.findIndex((c) => isServicePut(c) || isEvacuate(c))).toBeGreaterThan(forceOff);
    expect(calls.filter(isEvacuate)).toHaveLength(movable.length);

    const list = await cmpha(w, 'incidents');
    expect(list.out).toMatch(new RegExp(`^${id}\\s+compute1\\s+resolved`, 'm'));
    const json = JSON.parse((await cmpha(w, 'incidents', '--json')).out) as Array<{ id: string }>;
    expect(json.map((x) => x.id)).toEqual([id]);

    const ack = await cmpha(w, 'incidents', 'ack', id, '--by', 'alice');
    expect(ack).toMatchObject({ code: 0, out: `incident ${id} acknowledged by alice; repeated notifications stop\n` });
    expect(await getAcknowledgement(suite.redis, w.config.redis.prefix, id)).toMatchObject({ by: 'alice' });
    const show = await cmpha(w, 'incidents', 'show', id);
    expect(show.out).toMatch(/acked\s+by alice/);
    expect(show.out).toMatch(/fence\s+redfish .*power off/);
    for (const s of movable) expect(show.out).toMatch(new RegExp(`${s.name}\\s+${s.id}\\s+verified\\s+spare1`));
    expect(await cmpha(w, 'incidents', 'show', 'nope')).toMatchObject({ code: 1, err: 'cmpha incidents show: no incident with id nope\n' });

    const restore = await cmpha(w, 'host', 'restore', 'compute1', '--power-on', '--yes', '--wait', '20s');
    expect(restore.err).toBe('');
    expect(restore.code).toBe(0);
    expect(restore.out).toMatch(/power on requested[\s\S]*forced_down unset[\s\S]*nova-compute is up[\s\S]*enabled/);
    // Waits poll; a line is printed when what it says changes, never the same line twice in a row.
    const said = restore.out.trim().split('\n').map((l) => l.replace(/^\S+\s+/, ''));
    expect(said.filter((l, i) => l === said[i - 1])).toEqual([]);
    expect((await w.nova.listComputeServices({ host: 'compute1' }))[0]).toMatchObject({ state: 'up', status: 'enabled', forcedDown: false });
    // Nova refuses forced_down=false while evacuations are only `done`: they were `completed` first.
    const migs = await w.nova.listMigrations({ host: 'compute1', type: 'evacuation' });
    expect(migs.length).toBe(movable.length);
    expect(migs.every((m) => m.status === 'completed')).toBe(true);
  });

  it('drain: live-migrates the running servers away and lists the rest', async () => {
    const w = await suite.world({ hosts: 3, instancesPerHost: 6, spares: 1, liveMigrateSeconds: 0.3 });
    const before = await w.serversOn('compute2');
    const active = before.filter((s) => s.status === 'ACTIVE');
    const r = await cmpha(w, 'drain', 'compute2', '--yes');
    expect((await w.nova.listComputeServices({ host: 'compute2' }))[0]).toMatchObject({ status: 'disabled', disabledReason: expect.stringMatching(/^cmpha drain /) });
    for (const s of active) {
      const now = await w.nova.getServer(s.id);
      expect(now!.host).not.toBe('compute2');
      expect(now!.status).toBe('ACTIVE');
    }
    expect(r.out).toMatch(new RegExp(`compute2: ${active.length} of ${before.length} server\\(s\\) moved`));
    expect((await w.calls()).filter(isEvacuate)).toEqual([]);
    expect((await w.calls()).filter((c) => c.service === 'redfish')).toEqual([]);
    expect(r.code).toBe(active.length === before.length ? 0 : 1);
  });
});
