import { describe, expect, it } from 'vitest';
import { segmentHolds, sparesFor } from '../../../src/masakari/segment-policy.js';
import type { SegmentFacts, StoredSegment } from '../../../src/masakari/segments.js';

const seg = (name: string, method: string, hosts: string[], reserved: string[], enabled = true): StoredSegment => ({
  uuid: `u-${name}`, id: 1, name, description: null, recovery_method: method, service_type: 'COMPUTE', enabled, hosts, reserved, from: 'api', created_at: 0, updated_at: null,
});
const facts = (segments: StoredSegment[], maintenance: string[] = []): SegmentFacts => ({
  segments, maintenance: new Map(maintenance.map((h) => [h, { by: 'ops', at: 0 }])),
});

describe('the spares of a failed host, by its failover segment', () => {
  const rack = seg('rack1', 'rh_priority', ['c1', 'c2', 'c3', 'c4'], ['c3', 'c4']);
  it.each([
    ['rh_priority: the segment\'s reserved hosts', facts([rack]), 'c1', ['c3', 'c4'], 'rack1'],
    ['a reserved host on maintenance is not used', facts([rack], ['c4']), 'c1', ['c3'], 'rack1'],
    ['a failed reserved host is not its own spare', facts([rack]), 'c3', ['c4'], 'rack1'],
    ['auto: none, the scheduler chooses', facts([seg('r', 'auto', ['c1', 'c3'], ['c3'])]), 'c1', [], 'r'],
    ['no segment: [evacuation] spare_hosts without hosts a segment reserves', facts([rack]), 'c9', ['s1'], null],
  ])('%s', (_why, f, host, spares, segment) => {
    const got = sparesFor(f, host, ['s1', 'c3']);
    expect([got.hosts, got.segment]).toEqual([spares, segment]);
  });

  it('says which segment decided and what it left out', () => {
    expect(sparesFor(facts([rack], ['c4']), 'c1', []).why).toBe('segment rack1 recovers with rh_priority: reserved hosts c3 first, then the scheduler; on maintenance, not used: c4');
  });
});

describe('hosts the segments hold back', () => {
  it('holds a disabled segment\'s hosts and hosts on maintenance, and nothing else', () => {
    const held = segmentHolds(facts([seg('on', 'auto', ['c1'], []), seg('off', 'auto', ['c2', 'c3'], [], false)], ['c1']));
    expect([...held.keys()].sort()).toEqual(['c1', 'c2', 'c3']);
    expect(held.get('c2')).toBe('c2 is in failover segment off, which is disabled (enabled = false): its hosts are not recovered');
    expect(held.get('c1')).toMatch(/^c1 is on maintenance \(on_maintenance set by ops at 1970-01-01T00:00:00.000Z\)/);
  });
});
