import { describe, expect, it } from 'vitest';
import { evaluateCascade, mergeEvaluations, type CascadeInput } from '../../../src/detector/guard.js';

// The slow-cascade brake at its boundaries: max_recoveries = 3 per 30m, counted per zone and per aggregate.
const MIN = 60_000;
const NOW = 1_800_000_000_000;
const zones: Record<string, string> = { c1: 'az1', c2: 'az1', c3: 'az1', c4: 'az1', c5: 'az1', d1: 'az2' };
const groups: Record<string, string[]> = { c1: ['gpu'], c2: ['gpu'], c4: ['gpu'], d1: ['gpu'] };
const input = (over: Partial<CascadeInput>): CascadeInput => ({
  recent: [], open: [], dead: [], now: NOW, zoneOf: (h) => zones[h] ?? null, groupsOf: (h) => groups[h] ?? [], ...over,
});
const window = { maxRecoveries: { count: 3, windowMs: 30 * MIN } };

describe('evaluateCascade: max_recoveries per zone and aggregate', () => {
  it('the Nth recovery within the window passes: two recovered, a third dead now', () => {
    const e = evaluateCascade(input({ recent: [{ host: 'c1', at: NOW - 29 * MIN }, { host: 'c2', at: NOW - 10 * MIN }], dead: ['c3'] }), window);
    expect(e).toEqual({ tripped: false, reason: null, counted: [] });
  });

  it('the N+1th trips, naming the zone and every host it counted', () => {
    const e = evaluateCascade(input({ recent: [{ host: 'c1', at: NOW - 29 * MIN }, { host: 'c2', at: NOW - 10 * MIN }, { host: 'c3', at: NOW - MIN }], dead: ['c5'] }), window);
    expect(e.tripped).toBe(true);
    expect(e.reason).toBe('4 recoveries in zone az1 within 30 min (limit max_recoveries = 3 per 30m): c1, c2, c3, c5');
    expect(e.counted).toEqual(['c1', 'c2', 'c3', 'c5']);
  });

  it('a recovery opened exactly one window ago, or earlier, no longer counts', () => {
    const recent = [{ host: 'c1', at: NOW - 30 * MIN }, { host: 'c2', at: NOW - 10 * MIN }, { host: 'c3', at: NOW - MIN }];
    expect(evaluateCascade(input({ recent, dead: ['c5'] }), window).tripped).toBe(false);
    const justInside = [{ host: 'c1', at: NOW - 30 * MIN + 1 }, ...recent.slice(1)];
    expect(evaluateCascade(input({ recent: justInside, dead: ['c5'] }), window).tripped).toBe(true);
  });

  it('counts per aggregate across zones, and a host twice (recovered, dead again) once', () => {
    const e = evaluateCascade(input({ recent: [{ host: 'c1', at: NOW - MIN }, { host: 'c2', at: NOW - MIN }, { host: 'd1', at: NOW - MIN }, { host: 'c2', at: NOW - 2 * MIN }], dead: ['c4'] }), window);
    expect(e.reason).toBe('4 recoveries in aggregate gpu within 30 min (limit max_recoveries = 3 per 30m): c1, c2, c4, d1');
    expect(evaluateCascade(input({ recent: [{ host: 'c1', at: NOW - MIN }, { host: 'c1', at: NOW - 2 * MIN }, { host: 'c2', at: NOW - MIN }], dead: ['c1'] }), window).tripped).toBe(false);
  });

  it('no limit configured: nothing trips', () => {
    expect(evaluateCascade(input({ recent: ['c1', 'c2', 'c3', 'c4'].map((host) => ({ host, at: NOW })), dead: ['c5'] }), {}).tripped).toBe(false);
  });
});

describe('evaluateCascade: max_aggregate_failures', () => {
  it('counts hosts of one aggregate dead or with an open incident, whenever it opened: the cap passes, one more trips', () => {
    const cap = { maxAggregateFailures: 2 };
    expect(evaluateCascade(input({ open: ['c1'], dead: ['c2'] }), cap).tripped).toBe(false);
    const e = evaluateCascade(input({ open: ['c1', 'c2'], dead: ['d1', 'c3'] }), cap);
    expect(e.reason).toBe('3 hosts of aggregate gpu dead or recovering (limit max_aggregate_failures = 2): c1, c2, d1');
    expect(e.counted).toEqual(['c1', 'c2', 'd1']);
  });
});

describe('mergeEvaluations', () => {
  it('trips when either does, with both reasons and the union of the hosts', () => {
    const a = { tripped: false, reason: null, counted: ['x'] };
    const b = { tripped: true, reason: 'window', counted: ['y', 'x'] };
    expect(mergeEvaluations(a, b)).toEqual({ tripped: true, reason: 'window', counted: ['x', 'y'] });
    expect(mergeEvaluations({ tripped: true, reason: 'many', counted: [] }, b).reason).toBe('many; window');
  });
});
