// One failed host holding servers in several states: ACTIVE, ERROR, SHUTOFF, one caught mid-hard-reboot (its
// task never clears), one locked by its owner, and one member of an anti-affinity group whose other member runs
// on the spare. The real cmpha daemon, with the lab's config (the default [evacuation] states), must leave
// nothing behind, break no group's policy (the member may not join its sibling on spare1: the plan leaves it to
// the scheduler, whose ServerGroupAntiAffinityFilter puts it on compute2, the only other host up), each server
// must end in the state it had (an ERROR one comes back ACTIVE, as Nova rebuilds it), and `cmpha incidents show`
// must say what was done to each and why (docs/operations.md, "What cmpha does with each server state").
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Incident, InstanceEntry } from '../../../src/incidents/types.js';
import { CmphaHarness } from './cmpha-harness.js';
import { ipmi, LabNova, readLab, resetLab, SPARE, until, type NovaServer } from './lab.js';

const lab = readLab();
let nova: LabNova;
let cmpha: CmphaHarness;
type Kind = 'active' | 'error' | 'shutoff' | 'stuck' | 'locked' | 'grouped';
const ids: Record<Kind, string> = { active: '', error: '', shutoff: '', stuck: '', locked: '', grouped: '' };
const kinds = Object.keys(ids) as Kind[];
const want: Record<Kind, string> = { active: 'ACTIVE', error: 'ACTIVE', shutoff: 'SHUTOFF', stuck: 'ACTIVE', locked: 'ACTIVE', grouped: 'ACTIVE' };
let sibling = '';
let group = '';

type Locked = NovaServer & { locked?: boolean; locked_reason?: string | null };
const show = async (id: string): Promise<Locked> => (await nova.rest.novaOk<{ server: Locked }>('GET', `/servers/${id}`, undefined, '2.73')).server;
const act = (id: string, body: unknown) => nova.rest.nova('POST', `/servers/${id}/action`, body, '2.73');
const hostOf = async (id: string) => (await show(id))['OS-EXT-SRV-ATTR:host'];

describe('real Nova: a failed host with servers in several states', () => {
  beforeAll(async () => {
    nova = await LabNova.connect(lab);
    await resetLab(nova);
    group = await nova.createGroup('st-aa', 'anti-affinity');
    // The group's other member runs on the spare, as after an earlier recovery: Nova's compute_status prefilter
    // places nothing on a disabled host, so spare1 is enabled for that boot and disabled again with the spare mark.
    expect((await nova.updateService(SPARE, { status: 'enabled' })).status).toBe(200);
    sibling = (await nova.boot('st-aa-sibling', SPARE, { group })).id;
    expect((await nova.updateService(SPARE, { status: 'disabled', disabled_reason: 'down_prepare lab spare' })).status).toBe(200);
    // One at a time: parallel boots can hold nova-api past the client's timeout on a lab just started.
    for (const k of kinds) ids[k] = (await nova.boot(`st-${k}`, 'compute1', k === 'grouped' ? { group } : {})).id;
    expect((await act(ids.error, { 'os-resetState': { state: 'error' } })).status).toBe(202);
    expect((await act(ids.shutoff, { 'os-stop': null })).status).toBe(202);
    expect((await act(ids.locked, { lock: { locked_reason: 'owner: do not touch' } })).status).toBe(202);
    await until('st-shutoff SHUTOFF', 120_000, async () => (await show(ids.shutoff)).status === 'SHUTOFF', 1000);
    cmpha = await CmphaHarness.start(lab, { name: 'server-states' });
  }, 600_000);

  afterAll(async () => {
    await cmpha?.stop();
  });

  it('compute1 loses power with a hard reboot in flight: every server leaves it, each in the state it had, no group broken', async () => {
    expect(await ipmi(lab, 'compute1', 'chassis', 'power', 'off')).toContain('Down/Off');
    // Nova still believes compute1 up for a while: the reboot is accepted and never runs.
    await until('st-stuck caught mid-hard-reboot', 30_000, async () => {
      const r = await act(ids.stuck, { reboot: { type: 'HARD' } });
      return r.status === 202 || (await show(ids.stuck)).status === 'HARD_REBOOT';
    }, 1000);
    expect(await show(ids.stuck)).toMatchObject({ status: 'HARD_REBOOT', 'OS-EXT-STS:task_state': 'rebooting_hard' });

    const settled = await until('every server off compute1, settled', 480_000, async () => {
      const now = await Promise.all(kinds.map(async (k) => [k, await show(ids[k])] as const));
      return now.every(([k, s]) => s['OS-EXT-SRV-ATTR:host'] !== 'compute1' && s['OS-EXT-STS:task_state'] === null && s.status === want[k]) ? now : undefined;
    }, 1000);
    for (const [k, s] of settled) expect({ k, status: s.status }).toEqual({ k, status: want[k] });

    // The group's policy: its member went to the one host up that does not hold its sibling.
    expect(await hostOf(sibling)).toBe(SPARE);
    expect(await hostOf(ids.grouped)).toBe('compute2');
    for (const k of kinds.filter((x) => x !== 'grouped')) expect({ k, host: await hostOf(ids[k]) }).toEqual({ k, host: SPARE });
    expect((await nova.groups()).find((g) => g.id === group)?.members.sort()).toEqual([ids.grouped, sibling].sort());

    const closed = await until('cmpha closed its incident', 180_000, async () => {
      const all = await cmpha.incidents();
      return all.find((i) => i.host === 'compute1' && ['resolved', 'partial', 'failed'].includes(i.status));
    });
    // Locks: the owner's stays, with its reason; cmpha's are lifted.
    expect(await show(ids.locked)).toMatchObject({ locked: true, locked_reason: 'owner: do not touch' });
    for (const k of kinds.filter((x) => x !== 'locked')) expect((await show(ids[k])).locked, k).toBe(false);

    // What `cmpha incidents show --json` says of each server, as an operator reads it (times as ISO strings).
    const incident = (await cmpha.show(closed.id)) as unknown as Incident;
    expect(incident.status).toBe('resolved');
    const entry = (id: string): InstanceEntry => incident.instances.find((e) => e.id === id)!;
    expect(incident.instances.map((e) => e.id).sort()).toEqual(kinds.map((k) => ids[k]).sort());
    for (const k of kinds) expect({ k, state: entry(ids[k]).state }).toEqual({ k, state: 'verified' });
    expect(entry(ids.stuck)).toMatchObject({ was: { status: 'HARD_REBOOT', taskState: 'rebooting_hard', lasting: 'ACTIVE' }, resetAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    expect(entry(ids.shutoff)).toMatchObject({ was: { status: 'SHUTOFF' }, recovery: { expect: 'SHUTOFF' } });
    expect(entry(ids.error)).toMatchObject({ was: { status: 'ERROR' }, recovery: { expect: 'ACTIVE' } });
    expect(entry(ids.locked).lock).toEqual({ by: 'owner', reason: 'owner: do not touch' });
    expect(entry(ids.grouped)).toMatchObject({ target: 'compute2', attempts: 1 });
    expect(entry(ids.grouped).retargetedFrom).toBeUndefined();
    const lines = incident.timeline.map((t) => t.message);
    expect(lines).toContainEqual(expect.stringMatching(/^st-stuck was HARD_REBOOT \(vm_state active, task rebooting_hard\): .*resetting it/));
    expect(lines).toContainEqual(expect.stringMatching(/^st-shutoff is SHUTOFF on .*, as it was/));
    expect(lines).toContainEqual('st-locked is locked by its owner ("owner: do not touch"): evacuated as admin, and it stays locked');
    expect(lines).toContainEqual(`st-grouped: its anti-affinity group st-aa already has a member on ${SPARE}: evacuated without a target, the scheduler chooses a host that keeps the group's policy`);
    expect(lines).toContainEqual(`chose spare ${SPARE} for 5 server(s)`);
    expect(lines).toContainEqual(expect.stringMatching(/^unlocked 5 server\(s\) cmpha had locked for the recovery; 1 locked by their owners stay locked/));
  }, 720_000);
});
