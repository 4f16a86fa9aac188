import { describe, expect, it } from 'vitest';
import { incidentReason } from '../../../src/compute/nova/index.js';
import { MOVE_OUTCOME_UNKNOWN, SOURCE_IN_USE } from '../../../src/compute/types.js';
import { NOVA_EVACUATE_OUTCOME_UNKNOWN, OpenStackError } from '../../../src/openstack/errors.js';
import { computeOf } from '../../helpers/compute.js';
import { RecordingNova } from '../../helpers/recording-nova.js';

// The Nova adapter behind the compute-backend port: what the recovery asks in its own words, answered from
// nova-compute services, disabled reasons, migrations and task states, with the same Nova calls as before.

const AT = Date.parse('2026-12-07T20:00:00.000Z');

function cloud(): RecordingNova {
  return new RecordingNova()
    .addHost('cmp1', { forcedDown: true, state: 'down', status: 'disabled', disabledReason: incidentReason('cmpha', 'cmp1-1', AT) })
    .addHost('cmp2')
    .addHost('spare1', { status: 'disabled', disabledReason: 'down_prepare kept back' })
    .addServer({ id: 'vm1', host: 'cmp1' });
}

describe('Nova adapter: hosts', () => {
  it('reads cmpha\'s mark off the disabled reason: the incident it names, or a reserved spare', async () => {
    const hosts = await computeOf(cloud()).hosts();
    expect(hosts.map((h) => [h.name, h.isolated, h.status, h.marker])).toEqual([
      ['cmp1', true, 'disabled', { incident: { id: 'cmp1-1', at: AT }, spare: false }],
      ['cmp2', false, 'enabled', { incident: null, spare: false }],
      ['spare1', false, 'disabled', { incident: null, spare: true }],
    ]);
    expect(hosts[0]!.reason).toBe('cmpha incident cmp1-1 2026-12-07T20:00:00.000Z');
    expect(hosts[0]!.heartbeatAt).toBeInstanceOf(Date);
  });

  it('honours the configured prefixes', async () => {
    const nova = cloud();
    const [h] = await computeOf(nova, { reasonPrefix: 'ha-ctl', spareReasonPrefix: 'spare:' }).hosts({ name: 'cmp1' });
    expect(h!.marker).toEqual({ incident: null, spare: false });
    expect(nova.calls.at(-1)).toEqual({ method: 'listComputeServices', args: ['cmp1'] });
  });

  it('a host Nova does not know is an error naming it', async () => {
    await expect(computeOf(cloud()).host('nope')).rejects.toMatchObject({ code: 'service_not_found', message: 'Nova has no nova-compute service on host nope' });
  });
});

describe('Nova adapter: isolating a host', () => {
  it('forces down, then disables with the reason naming the incident; disabling before the force-down is refused', async () => {
    const nova = new RecordingNova().addHost('cmp1');
    const compute = computeOf(nova);
    const before = await compute.host('cmp1');
    await expect(compute.mark(before, 'cmp1-9', AT)).rejects.toMatchObject({ code: 'not_forced_down' });
    await compute.isolate(before);
    const reason = await compute.mark(await compute.host('cmp1'), 'cmp1-9', AT);
    expect(reason).toBe('cmpha incident cmp1-9 2026-12-07T20:00:00.000Z');
    expect(nova.mutating().map((c) => c.args[1])).toEqual([{ forcedDown: true }, { status: 'disabled', disabledReason: reason }]);
    expect((await compute.host('cmp1')).marker.incident?.id).toBe('cmp1-9');
  });

  it('lifts the isolation only once Nova has cleaned up the evacuations, and says why not yet', async () => {
    const nova = cloud();
    nova.migrations.push({ id: '7', instanceId: 'vm1', type: 'evacuation', status: 'done', sourceCompute: 'cmp1', destCompute: 'cmp2', createdAt: null, updatedAt: null });
    const compute = computeOf(nova);
    const h = await compute.host('cmp1');
    expect(await compute.endIsolation(h)).toBe('waiting for nova-compute to clean up 1 evacuation(s) (migrations still \'done\')');
    expect(nova.mutating()).toEqual([]);
    nova.migrations[0]!.status = 'completed';
    expect(await compute.endIsolation(h)).toBeNull();
    expect(nova.mutating().map((c) => c.args[1])).toEqual([{ forcedDown: false }]);
  });
});

describe('Nova adapter: where a move stands', () => {
  const guestOn = async (nova: RecordingNova, id = 'vm1') => (await computeOf(nova).guest(id))!;

  it('none on the source with no task and no migration; busy with a task; in flight with a migration under way', async () => {
    const nova = cloud();
    const compute = computeOf(nova);
    expect(await compute.moveState(await guestOn(nova), 'cmp1')).toEqual({ kind: 'none' });
    nova.servers.get('vm1')!.taskState = 'rebuilding';
    expect(await compute.moveState(await guestOn(nova), 'cmp1')).toMatchObject({ kind: 'busy', why: 'task_state is rebuilding; waiting for it to clear before evacuating' });
    nova.migrations.push({ id: '3', instanceId: 'vm1', type: 'evacuation', status: 'accepted', sourceCompute: 'cmp1', destCompute: 'cmp2', createdAt: new Date(AT), updatedAt: null });
    expect(await compute.moveState(await guestOn(nova), 'cmp1')).toEqual({ kind: 'in-flight', why: 'an evacuation is already in flight (migration 3, accepted)' });
    nova.migrations[0]!.status = 'done';
    nova.servers.get('vm1')!.taskState = null;
    // A done migration counts as ours only when it is not older than our first request (less a minute).
    expect(await compute.moveState(await guestOn(nova), 'cmp1', { since: AT + 120_000 })).toEqual({ kind: 'none' });
    expect(await compute.moveState(await guestOn(nova), 'cmp1', { since: AT })).toEqual({ kind: 'done', why: 'evacuation migration 3 is done' });
  });

  it('a server on another host is done only when Nova lists that host as a compute service', async () => {
    const nova = cloud();
    nova.servers.get('vm1')!.host = 'cmp2';
    expect(await computeOf(nova).moveState(await guestOn(nova), 'cmp1')).toEqual({ kind: 'done', why: 'already left cmp1 (now on cmp2)' });
    nova.servers.get('vm1')!.host = 'cmp2\u0000';
    expect(await computeOf(nova).moveState(await guestOn(nova), 'cmp1')).toMatchObject({ kind: 'busy', why: expect.stringMatching(/which is not a nova-compute service it lists/) });
  });

  it('after the move: waiting, then arrived with the time Nova took; gone once deleted', async () => {
    const nova = cloud();
    const compute = computeOf(nova);
    await nova.updateService('svc-cmp1', { forcedDown: true });
    await compute.move('vm1', 'cmp2');
    expect(await compute.whereIs('vm1', 'cmp1')).toMatchObject({ kind: 'waiting' });
    const arrived = await compute.whereIs('vm1', 'cmp1');
    expect(arrived).toMatchObject({ kind: 'arrived', host: 'cmp2' });
    expect((arrived as { tookMs?: number }).tookMs).toBeGreaterThanOrEqual(0);
    nova.servers.delete('vm1');
    expect(await compute.whereIs('vm1', 'cmp1')).toEqual({ kind: 'gone' });
  });

  it('a failed evacuation on the source is failed, not waiting', async () => {
    const nova = cloud();
    nova.fullHosts.add('cmp2');
    await computeOf(nova).move('vm1', 'cmp2');
    expect(await computeOf(nova).whereIs('vm1', 'cmp1')).toEqual({ kind: 'failed', why: 'evacuation migration error', noRoom: true });
  });
});

describe('Nova adapter: sending a move', () => {
  it('an evacuate whose outcome is unknown is never resent: it surfaces as move-outcome-unknown', async () => {
    const nova = cloud();
    const lost = new OpenStackError(NOVA_EVACUATE_OUTCOME_UNKNOWN, 'POST timed out; not repeated', { service: 'nova', method: 'POST', path: '/servers/vm1/action' });
    nova.onEvacuate = () => ({ error: lost, accept: true });
    await expect(computeOf(nova).move('vm1', null)).rejects.toMatchObject({ code: MOVE_OUTCOME_UNKNOWN, message: lost.message, cause: lost });
    expect(nova.evacuateCount('vm1')).toBe(1);
  });

  it('"still in use" (the source not forced down) is source-in-use: nothing was done', async () => {
    const nova = new RecordingNova().addHost('cmp1').addHost('cmp2').addServer({ id: 'vm1', host: 'cmp1' });
    await expect(computeOf(nova).move('vm1', 'cmp2')).rejects.toMatchObject({ code: SOURCE_IN_USE, message: 'Compute service of cmp1 is still in use.' });
    expect(nova.migrations).toEqual([]);
  });

  it('a live move arrives once ACTIVE with no task elsewhere; a failed live migration stops it', async () => {
    const nova = new RecordingNova().addHost('cmp1').addHost('cmp2').addServer({ id: 'vm1', host: 'cmp1' }).addServer({ id: 'vm2', host: 'cmp1' });
    const compute = computeOf(nova);
    await compute.liveMove('vm1', null);
    expect(await compute.liveMoveState('vm1', 'cmp1')).toEqual({ kind: 'arrived', host: 'cmp2' });
    expect(await compute.liveMoveState('vm2', 'cmp1')).toEqual({ kind: 'stopped', host: 'cmp1', why: 'Nova shows no live migration', final: false });
    nova.migrations.push({ id: '9', instanceId: 'vm2', type: 'live-migration', status: 'error', sourceCompute: 'cmp1', destCompute: 'cmp2', createdAt: null, updatedAt: null });
    expect(await compute.liveMoveState('vm2', 'cmp1')).toEqual({ kind: 'stopped', host: 'cmp1', why: 'live migration error', final: true });
    nova.servers.get('vm2')!.taskState = 'migrating';
    expect(await compute.liveMoveState('vm2', 'cmp1')).toEqual({ kind: 'waiting', host: 'cmp1', why: 'status ACTIVE, task migrating' });
  });
});

describe('Nova adapter: capacity and groups', () => {
  it('free room from the hypervisor\'s figures without Placement; summed from the servers when Nova gives no usage', async () => {
    const nova = new RecordingNova().addHost('spare1', { vcpus: 16, memoryMb: 32768 }).addHost('spare2', { vcpus: 8, memoryMb: 16384, usage: false })
      .addServer({ id: 'a', host: 'spare1' }).addServer({ id: 'b', host: 'spare2' });
    const cap = await computeOf(nova).capacity(['spare1', 'spare2', 'ghost']);
    expect(Object.fromEntries(cap)).toEqual({
      spare1: { freeVcpus: 14, freeRamMb: 28672, source: 'nova', why: 'Placement was not asked' },
      spare2: { freeVcpus: 6, freeRamMb: 12288, source: 'nova', why: 'Placement was not asked' },
      ghost: { source: 'unknown', why: 'Nova lists no hypervisor for it' },
    });
    expect(nova.calls.filter((c) => c.method === 'listServersOnHost').map((c) => c.args[0])).toEqual(['spare2']);
  });

  it('a spare joins the failed host\'s aggregates it is not in yet, each after the guard', async () => {
    const nova = cloud();
    nova.aggregates.push({ id: '1', name: 'ssd', hosts: ['cmp1'], availabilityZone: null, metadata: {} }, { id: '2', name: 'gpu', hosts: ['cmp1', 'spare1'], availabilityZone: null, metadata: {} });
    const seen: string[] = [];
    await computeOf(nova).joinGroups(['spare1'], 'cmp1', { before: async (s, g) => { seen.push(`guard ${s} ${g}`); }, after: async (s, g) => { seen.push(`joined ${s} ${g}`); } });
    expect(seen).toEqual(['guard spare1 ssd', 'joined spare1 ssd']);
    expect(nova.mutating('addHostToAggregate').map((c) => c.args)).toEqual([['1', 'spare1']]);
  });
});
