import { describe, expect, it } from 'vitest';
import { computeOf } from '../../helpers/compute.js';
import { RecordingNova } from '../../helpers/recording-nova.js';
import { hostOf, incidentReason as disabledReason, parseIncidentReason } from '../../../src/compute/nova/index.js';
import type { ComputeHost } from '../../../src/compute/types.js';
import type { ComputeService } from '../../../src/openstack/types.js';
import { judgeOrphan, releaseLeftoverLocks, type OrphanFacts } from '../../../src/pipeline/reconcile-orphans.js';
import { lockReason } from '../../../src/evacuator/server-locks.js';
import { silentLogger } from '../../../src/shared/logger.js';

const AT = Date.parse('2026-12-01T20:00:00.000Z');
const OURS = disabledReason('cmpha', 'compute1-1764619200', AT);

// The Nova adapter reads cmpha's mark (with the prefix configured) off the service the pure rule is given.
const svc = (o: Partial<ComputeService> = {}, prefix = 'cmpha'): ComputeHost => hostOf({
  id: 'uuid-1', binary: 'nova-compute', host: 'compute1', state: 'down', status: 'disabled', forcedDown: true,
  disabledReason: OURS, updatedAt: null, ...o,
}, { reasonPrefix: prefix, spareReasonPrefix: 'down_prepare' });
const lost: OrphanFacts = { openIncident: false, recordExists: false, servers: 4 };

describe('orphaned recovery: the pure rule', () => {
  it('reads back the reason the disable step writes', () => {
    expect(parseIncidentReason(OURS, 'cmpha')).toEqual({ id: 'compute1-1764619200', at: AT });
    expect(parseIncidentReason('cmpha incident x-1', 'cmpha')).toEqual({ id: 'x-1', at: null });
    expect(parseIncidentReason('cmpha drain 2026-12-01T20:00:00.000Z', 'cmpha')).toBeNull();
    expect(parseIncidentReason('cmphaX incident a-1 2026-12-01T20:00:00.000Z', 'cmpha')).toBeNull();
    expect(parseIncidentReason('cmpha incident bad:id 2026-12-01T20:00:00.000Z', 'cmpha')).toBeNull();
    expect(parseIncidentReason(null, 'cmpha')).toBeNull();
  });

  it.each<[string, Partial<ComputeService>, Partial<OrphanFacts>, string | null]>([
    ['forced down, disabled by cmpha, servers left, no record: orphan', {}, {}, null],
    ['enabled', { status: 'enabled' }, {}, 'not disabled by a cmpha incident'],
    ['disabled by an operator', { disabledReason: 'hardware repair' }, {}, 'not disabled by a cmpha incident'],
    ['disabled by a cmpha drain', { disabledReason: 'cmpha drain 2026-12-01T20:00:00.000Z' }, {}, 'not disabled by a cmpha incident'],
    ['a spare held disabled', { disabledReason: 'down_prepare spare' }, {}, 'not disabled by a cmpha incident'],
    ['no longer forced down (an operator is bringing it back)', { forcedDown: false }, {}, 'no longer forced down (being brought back)'],
    ['an incident is open for the host', {}, { openIncident: true }, 'an incident is open for the host'],
    ['the incident closed (partial/failed: someone was paged)', {}, { recordExists: true }, 'incident compute1-1764619200 has a record'],
    ['its servers could not be listed', {}, { servers: null }, 'its servers could not be listed'],
    ['every server already moved', {}, { servers: 0 }, 'no servers left on it'],
  ])('%s', (_what, s, f, why) => {
    const v = judgeOrphan(svc(s), { ...lost, ...f });
    if (why === null) expect(v).toEqual({ kind: 'orphan', incidentId: 'compute1-1764619200', disabledAt: AT });
    else expect(v).toEqual({ kind: 'not-orphan', why });
  });

  it('honours a configured prefix', () => {
    const reason = disabledReason('ha-ctl', 'h-1', AT);
    expect(judgeOrphan(svc({ disabledReason: reason }, 'ha-ctl'), lost)).toMatchObject({ kind: 'orphan', incidentId: 'h-1' });
    expect(judgeOrphan(svc({ disabledReason: reason }, 'cmpha'), lost)).toMatchObject({ kind: 'not-orphan' });
  });
});

describe('orphaned recovery: only compute hosts are candidates', () => {
  it('the Nova adapter lists nova-compute services only, so another binary is never judged', async () => {
    const nova = new RecordingNova().addHost('compute1', { status: 'disabled', forcedDown: true, disabledReason: OURS });
    const other = { ...nova.services.get('compute1')!, id: 'uuid-2', binary: 'nova-conductor' };
    nova.listComputeServices = async () => [nova.services.get('compute1')!, other];
    expect((await computeOf(nova).hosts()).map((h) => h.id)).toEqual(['svc-compute1']);
  });
});

describe('leftover locks', () => {
  it('lifts cmpha\'s locks whose incident is closed or unknown; keeps a running recovery\'s and every owner\'s lock', async () => {
    const nova = new RecordingNova().addHost('spare1');
    const lockOf = (id: string) => ({ locked: true, lockedReason: lockReason(id, 'compute1') });
    nova.addServer({ id: 'closed', host: 'spare1', ...lockOf('inc-closed') })
      .addServer({ id: 'lost', host: 'spare1', ...lockOf('inc-lost') })
      .addServer({ id: 'running', host: 'spare1', ...lockOf('inc-open') })
      .addServer({ id: 'owner', host: 'spare1', locked: true, lockedReason: 'owner: keep' })
      .addServer({ id: 'free', host: 'spare1' });
    const records: Record<string, { status: string } | null> = { 'inc-closed': { status: 'resolved' }, 'inc-open': { status: 'evacuating' } };
    const incidents = { getRecord: async (id: string) => records[id] ?? null } as unknown as Parameters<typeof releaseLeftoverLocks>[0]['incidents'];
    const unlocked = await releaseLeftoverLocks({ compute: computeOf(nova), incidents, logger: silentLogger });
    expect(unlocked.sort()).toEqual(['closed', 'lost']);
    expect(nova.calls.filter((c) => c.method === 'unlock').map((c) => c.args[0]).sort()).toEqual(['closed', 'lost']);
    expect((await nova.getServer('owner'))).toMatchObject({ locked: true, lockedReason: 'owner: keep' });
    expect((await nova.getServer('running'))).toMatchObject({ locked: true });
  });
});
