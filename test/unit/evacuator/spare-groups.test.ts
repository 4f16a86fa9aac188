import { describe, expect, it } from 'vitest';
import { planSpares, type PlanGroup, type SpareCandidate } from '../../../src/evacuator/spare-plan.js';

const spare = (host: string, freeVcpus = 64, freeRamMb = 65536): SpareCandidate => ({ host, serviceId: `svc-${host}`, enabled: false, freeVcpus, freeRamMb });
const need = (id: string) => ({ id, vcpus: 1, ramMb: 512 });
const group = (policy: PlanGroup['policy'], members: string[], extra: Partial<PlanGroup> = {}): PlanGroup => ({ name: 'g', policy, members, elsewhere: new Map(), ...extra });
const placement = (p: ReturnType<typeof planSpares>) => Object.fromEntries(p.spares.flatMap((s) => s.serverIds.map((id) => [id, s.host])));

describe('spare plan with server groups', () => {
  it('anti-affinity: one member per spare, the rest left to the scheduler; a spare holding another member takes none', () => {
    const p = planSpares({
      candidates: [spare('s1'), spare('s2'), spare('s3')], needs: [need('a'), need('b'), need('c')], maxSpares: 3,
      groups: [group('anti-affinity', ['a', 'b', 'c'], { elsewhere: new Map([['s3', 1]]) })],
    });
    const where = placement(p);
    expect(new Set(Object.values(where)).size).toBe(Object.keys(where).length);
    expect(Object.values(where)).not.toContain('s3');
    expect(p.unplaced).toHaveLength(1);
    expect(p.rejected).toContainEqual({ host: 's3', reason: 'would break the server groups\' policies' });
  });

  it('max_server_per_host counts the members already there', () => {
    const p = planSpares({
      candidates: [spare('s1')], needs: [need('a'), need('b'), need('c')], maxSpares: 1,
      groups: [group('anti-affinity', ['a', 'b', 'c'], { maxPerHost: 3, elsewhere: new Map([['s1', 1]]) })],
    });
    expect(p.spares[0]!.serverIds).toEqual(['a', 'b']);
    expect(p.unplaced).toEqual(['c']);
  });

  it('affinity: members stay together, on the host where the others run when they run somewhere', () => {
    const together = planSpares({ candidates: [spare('s1', 1), spare('s2', 4)], needs: [need('a'), need('b'), need('x')], maxSpares: 2, groups: [group('affinity', ['a', 'b'])] });
    const where = placement(together);
    expect(where.a).toBe(where.b);
    const pinned = planSpares({ candidates: [spare('s1')], needs: [need('a')], maxSpares: 1, groups: [group('affinity', ['a'], { elsewhere: new Map([['compute9', 2]]) })] });
    expect(pinned.unplaced).toEqual(['a']);
  });

  it('servers in no group are planned as before', () => {
    const p = planSpares({ candidates: [spare('s1')], needs: [need('a'), need('b')], maxSpares: 1, groups: [group('anti-affinity', ['a'])] });
    expect(p.spares[0]!.serverIds).toEqual(['a', 'b']);
  });
});
