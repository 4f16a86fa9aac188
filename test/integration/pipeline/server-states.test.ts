import { describe, expect, it } from 'vitest';
import { EVACUABLE_STATES } from '../../../src/config/schema.js';
import { LOCK_REASON_PREFIX } from '../../../src/evacuator/server-locks.js';
import { pipelineSuite, waitClosed } from './world.js';

// A dead host's servers in every state the recovery knows (docs/operations.md, "What cmpha does with each server
// state"), on the simulator, which behaves as the lab's Nova does (contract suite): what each ends as, what Nova
// was asked, what the incident says.

const suite = pipelineSuite();

describe('server states on a dead host', () => {
  it('each server ends in the state it had; a stuck task and a paused server are reset first; locks are cmpha\'s for the recovery only; a shelved server left makes the incident partial', async () => {
    const w = await suite.world({ hosts: 2, instancesPerHost: 0, spares: 1, evacuation: { states: [...EVACUABLE_STATES] } });
    const add = async (name: string, spec: Record<string, unknown>) => {
      const r = await fetch(`${w.sim.controlUrl}/sim/servers`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, host: 'compute1', ...spec }) });
      if (!r.ok) throw new Error(`${name}: ${r.status} ${await r.text()}`);
      return ((await r.json()) as { server: { id: string } }).server.id;
    };
    const id = {
      active: await add('st-active', {}), error: await add('st-error', { status: 'ERROR' }), shutoff: await add('st-shutoff', { status: 'SHUTOFF' }),
      stuck: await add('st-stuck', { taskState: 'rebooting_hard' }), paused: await add('st-paused', { status: 'PAUSED' }),
      locked: await add('st-locked', { lockedReason: 'owner: keep' }), shelved: await add('st-shelved', { status: 'SHELVED' }),
    };
    await w.control('compute1', 'power-off');
    await w.waitNovaDown('compute1');
    const r = w.recovery(suite.redis);
    await r.startWorkers();
    await r.opener.open({ id: 'states-1', host: 'compute1', failureStartedAt: Date.now() - 3000, evidence: {} });
    const inc = await waitClosed(r, 'states-1', 60_000);

    // Nova's view: everything but the shelved server moved, each in the state it had.
    const show = async (sid: string) => (await (await fetch(`${w.sim.controlUrl}/sim/state?servers=1`)).json() as { servers: Array<{ id: string; host: string; status: string }> }).servers.find((s) => s.id === sid)!;
    const want: Record<keyof typeof id, string> = { active: 'ACTIVE', error: 'ACTIVE', shutoff: 'SHUTOFF', stuck: 'ACTIVE', paused: 'PAUSED', locked: 'ACTIVE', shelved: 'SHELVED' };
    for (const [k, status] of Object.entries(want) as Array<[keyof typeof id, string]>) {
      const s = await show(id[k]);
      expect({ k, status: s.status, moved: s.host !== 'compute1' }).toEqual({ k, status, moved: k !== 'shelved' });
    }
    const locks = async (sid: string) => (await w.nova.getServer(sid))!;
    expect(await locks(id.locked)).toMatchObject({ locked: true, lockedReason: 'owner: keep' });
    for (const k of ['active', 'error', 'shutoff', 'stuck', 'paused'] as const) expect(await locks(id[k])).toMatchObject({ locked: false });

    // What cmpha asked: a reset for the stuck and the paused server only; a lock naming the incident on each server it
    // moved but the owner's; an unlock of its own; a pause after the move.
    const actions = (await w.calls()).filter((c) => c.service === 'nova' && c.method === 'POST' && /\/servers\/[^/]+\/action$/.test(c.path));
    const of = (key: string) => actions.filter((c) => key in (c.body as object)).map((c) => ({ server: c.path.split('/').at(-2), body: (c.body as Record<string, unknown>)[key] }));
    expect(of('os-resetState').map((c) => c.server).sort()).toEqual([id.stuck, id.paused].sort());
    expect(of('os-resetState').every((c) => (c.body as { state: string }).state === 'error')).toBe(true);
    expect(of('lock').map((c) => c.server).sort()).toEqual([id.active, id.error, id.shutoff, id.stuck, id.paused].sort());
    expect(of('lock').every((c) => ((c.body as { locked_reason: string }).locked_reason).startsWith(`${LOCK_REASON_PREFIX}states-1 `))).toBe(true);
    expect(of('unlock').map((c) => c.server).sort()).toEqual([id.active, id.error, id.shutoff, id.stuck, id.paused].sort());
    expect(of('pause').map((c) => c.server)).toEqual([id.paused]);
    expect(of('evacuate').map((c) => c.server)).not.toContain(id.shelved);

    // What the incident says.
    expect(inc.status).toBe('partial');
    const entry = (sid: string) => inc.instances.find((e) => e.id === sid)!;
    expect(entry(id.shelved)).toMatchObject({ state: 'skipped', leftBy: 'cloud', skipReason: expect.stringContaining('shelved') });
    for (const k of ['active', 'error', 'shutoff', 'stuck', 'paused', 'locked'] as const) expect(entry(id[k]).state).toBe('verified');
    expect(entry(id.stuck)).toMatchObject({ was: { status: 'HARD_REBOOT', taskState: 'rebooting_hard', lasting: 'ACTIVE' }, resetAt: expect.any(Number) });
    expect(entry(id.locked).lock).toEqual({ by: 'owner', reason: 'owner: keep' });
    const lines = inc.timeline.map((t) => t.message);
    expect(lines).toContainEqual(expect.stringMatching(/^st-stuck was HARD_REBOOT \(vm_state active, task rebooting_hard\): task_state rebooting_hard .* will never finish.*resetting it/));
    expect(lines).toContainEqual(expect.stringMatching(/^st-paused was PAUSED .*Nova evacuates no server in vm_state paused/));
    expect(lines).toContainEqual('st-paused is PAUSED on spare1, as it was (its memory was lost with the host: it boots again on its new host, then is paused)');
    expect(lines).toContainEqual(expect.stringMatching(/^st-shutoff is SHUTOFF \(stopped, as it was\) on spare1/));
    expect(lines).toContainEqual('st-locked is locked by its owner ("owner: keep"): evacuated as admin, and it stays locked');
    expect(lines).toContainEqual('unlocked 5 server(s) cmpha had locked for the recovery; 1 locked by their owners stay locked');
    expect(lines.find((l) => l.startsWith('incident partial'))).toMatch(/^incident partial: 6 verified, 0 failed, 1 left on the dead host \(st-shelved: shelved: Nova evacuates no shelved server/);
    const partial = w.notifier.events.find((e) => e.type === 'incident-partial');
    expect(partial).toMatchObject({ severity: 'critical', summary: expect.stringMatching(/^compute1: 6 of 7 instance\(s\) recovered \(1 left on the dead host\)/) });
    expect(partial!.details).toMatch(/st-shelved \(.*\): LEFT on compute1 \(was SHELVED\): shelved/);
  }, 90_000);
});
