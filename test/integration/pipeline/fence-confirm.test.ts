import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerEvacuateCommands } from '../../../src/cli/commands/evacuate.js';
import { registerFenceCommands } from '../../../src/cli/commands/fence.js';
import { formatIncident } from '../../../src/incidents/format.js';
import { composeRecovery } from '../../../src/app/root.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { FAST_QUEUE, callsAbout, isEvacuate, isServicePut, pipelineWorld, waitClosed, waitFor, type PipelineWorld, pipelineSuite } from './world.js';

// `cmpha fence confirm`: a host whose BMC is gone is recovered on an operator's word, and only then.

const s = pipelineSuite();

interface Run { code: number; out: string; err: string }

async function cmpha(world: PipelineWorld, ...args: string[]): Promise<Run> {
  const run: Run = { code: -1, out: '', err: '' };
  const program = new Command('cmpha').exitOverride();
  registerFenceCommands(program, {
    loadConfig: async () => world.config,
    loadFullConfig: async () => world.config,
    createLogger: () => silentLogger,
    user: () => 'alice',
    startWorker: (config, logger) => composeRecovery(config, { logger, notifier: world.notifier, queue: FAST_QUEUE }),
    stdout: (t: string) => { run.out += t; },
    stderr: (t: string) => { run.err += t; },
    setExitCode: (c: number) => { run.code = c; },
  });
  registerEvacuateCommands(program, {
    loadConfig: async () => world.config,
    createLogger: () => silentLogger,
    startWorker: (config, logger) => composeRecovery(config, { logger, notifier: world.notifier, queue: FAST_QUEUE }),
    stdout: (t: string) => { run.out += t; },
    stderr: (t: string) => { run.err += t; },
    setExitCode: (c: number) => { run.code = c; },
  });
  await program.parseAsync(['node', 'cmpha', ...args]);
  return run;
}

describe('cmpha fence confirm', () => {
  it('refuses without --yes, and when no incident of the host waits for a fence', async () => {
    s.w = await pipelineWorld({ hosts: 2, instancesPerHost: 1, spares: 1, redisUrl: s.redisUrl });
    expect(await cmpha(s.w, 'fence', 'confirm', 'compute1')).toMatchObject({ code: 2, err: expect.stringMatching(/refusing without --yes/) });
    expect(await cmpha(s.w, 'fence', 'confirm', 'compute1', '--yes')).toMatchObject({
      code: 1, err: 'cmpha fence confirm: no incident of compute1 waits for a fence confirmation: it has no open incident\n',
    });
  });

  it('cmpha evacuate on a host whose BMC is dead stops at the fence and says how to go on', async () => {
    s.w = await pipelineWorld({ hosts: 2, instancesPerHost: 1, spares: 1, redisUrl: s.redisUrl });
    await s.w.control('compute1', 'bmc', { mode: 'error' });
    const run = await cmpha(s.w, 'evacuate', 'compute1', '--yes', '--timeout', '60s');
    expect(run.code).toBe(1);
    expect(run.out).toMatch(/compute1, AWAITING_FENCE/);
    expect(run.out).toMatch(/make sure compute1 is off, then run cmpha fence confirm compute1 --yes/);
  });

  it('a dead BMC: nothing is forced down until the operator confirms; then the host is recovered and the word is on record', async () => {
    s.w = await pipelineWorld({ hosts: 3, instancesPerHost: 3, spares: 1, redisUrl: s.redisUrl });
    await s.w.control('compute1', 'bmc', { mode: 'error' });
    const servers = (await s.w.serversOn('compute1')).filter((s) => ['ACTIVE', 'ERROR'].includes(s.status));
    await s.w.control('compute1', 'power-off');
    await s.w.waitNovaDown('compute1');
    const r = s.w.recovery(s.redis);
    await r.startWorkers();
    await r.opener.open({ id: 'bmc-gone-1', host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
    const waiting = await waitClosed(r, 'bmc-gone-1', 45_000, ['awaiting_fence']);
    expect(waiting.status).toBe('awaiting_fence');
    const svcId = (await s.w.nova.listComputeServices({ host: 'compute1' }))[0]!.id;
    const mutations = async () => callsAbout(await s.w!.calls(), 'compute1', servers.map((s) => s.id), svcId).filter((c) => isServicePut(c) || isEvacuate(c));
    expect(await mutations()).toEqual([]);
    expect(s.w.notifier.events.at(-1)).toMatchObject({ type: 'fence-failed', severity: 'critical' });
    expect(formatIncident(waiting)).toMatch(/fence {5}FAILED: waiting for an operator .* `cmpha fence confirm compute1 --yes`/);

    const run = await cmpha(s.w, 'fence', 'confirm', 'compute1', '--yes', '--note', 'chassis unplugged, checked at the rack');
    expect(run).toMatchObject({ code: 0, out: expect.stringMatching(/compute1: fence confirmed by alice for incident bmc-gone-1/) });
    const inc = await waitClosed(r, 'bmc-gone-1', 60_000);
    expect(inc.status).toBe('resolved');
    expect(inc.fence).toMatchObject({ driver: 'operator', confirmedBy: { user: 'alice', note: 'chassis unplugged, checked at the rack' } });
    expect(inc.timeline.some((t) => t.level === 'critical' && /fence confirmed by alice at .*chassis unplugged/.test(t.message))).toBe(true);
    expect(s.w.notifier.events.map((e) => e.type)).toContain('fence-confirmed');
    expect(formatIncident(inc)).toMatch(/fence {5}CONFIRMED OFF BY AN OPERATOR: alice at .* \("chassis unplugged, checked at the rack"\)/);
    expect(s.w.notifier.events.find((e) => e.type === 'fence-confirmed')).toMatchObject({ severity: 'critical', host: 'compute1' });
    const evacuations = (await mutations()).filter(isEvacuate);
    for (const s of servers) expect(evacuations.filter((c) => c.path.includes(s.id))).toHaveLength(1);
    // A second confirmation has nothing to confirm.
    expect(await cmpha(s.w, 'fence', 'confirm', 'compute1', '--yes')).toMatchObject({ code: 1, err: expect.stringMatching(/no open incident/) });
  });

  it('refuses, unless forced, when the host showed life since its incident opened, and says what was seen', async () => {
    s.w = await pipelineWorld({ hosts: 2, instancesPerHost: 1, spares: 1, redisUrl: s.redisUrl });
    await s.w.control('compute1', 'bmc', { mode: 'error' });
    await s.w.control('compute1', 'power-off');
    await s.w.waitNovaDown('compute1');
    // Nova's view of the service as the detector recorded it when it judged the host dead.
    const svc = (await s.w.nova.listComputeServices({ host: 'compute1' }))[0]!;
    const nova = { updatedAt: svc.updatedAt!.toISOString(), status: svc.status, forcedDown: svc.forcedDown, disabledReason: svc.disabledReason };
    const r = s.w.recovery(s.redis);
    await r.startWorkers();
    await r.opener.open({ id: 'came-back-1', host: 'compute1', failureStartedAt: Date.now(), evidence: { nova } });
    expect((await waitClosed(r, 'came-back-1', 45_000, ['awaiting_fence'])).status).toBe('awaiting_fence');

    // Repaired behind cmpha's back, with no controller watching: its nova-compute reports again.
    await s.w.control('compute1', 'power-on');
    await waitFor('compute1 to report again', async () => (await s.w!.nova.listComputeServices({ host: 'compute1' }))[0]!.updatedAt!.getTime() > svc.updatedAt!.getTime());
    const refused = await cmpha(s.w, 'fence', 'confirm', 'compute1', '--yes');
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/compute1 showed life since its incident came-back-1 opened: Nova's heartbeat moved since the incident opened \(updated_at \S+ then, \S+ now\)\..*--force/);
    expect((await r.incidents.getRecord('came-back-1'))!.status).toBe('awaiting_fence');

    // What the detector saw is on the record too (its abort did not go through: say it had just lost the lead), and is quoted.
    await r.incidents.update('came-back-1', (x) => ({ ...x, lifeSeen: { at: Date.now(), what: 'management IP 198.18.0.11 answers' } }));
    expect((await cmpha(s.w, 'fence', 'confirm', 'compute1', '--yes')).err).toMatch(/showed life .*: management IP 198\.18\.0\.11 answers \(seen .*\); Nova's heartbeat moved/);

    const forced = await cmpha(s.w, 'fence', 'confirm', 'compute1', '--yes', '--force', '--note', 'pulled both power cords');
    expect(forced.code).toBe(0);
    const rec = (await r.incidents.get('came-back-1'))!;
    expect(rec.timeline.some((t) => t.step === 'fence' && /forced although the host showed life since the incident opened \(management IP/.test(t.message))).toBe(true);
  });
});

