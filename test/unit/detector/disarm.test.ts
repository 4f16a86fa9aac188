import { describe, expect, it } from 'vitest';
import { covers, describeDisarm, disarmOf, overdue, parseUntil, scopeOf, viewDisarms, type DisarmEntry } from '../../../src/detector/disarm.js';

const NOW = Date.parse('2026-12-07T22:00:00Z');
const entry = (kind: DisarmEntry['scope']['kind'], name: string, over: Partial<DisarmEntry> = {}): DisarmEntry => ({
  scope: { kind, name }, reason: 'maintenance', by: 'alice', at: NOW - 60_000, until: null, ...over,
});

describe('disarm scopes', () => {
  it('takes exactly one of host, aggregate, zone, all', () => {
    expect(scopeOf({ zone: 'az1' })).toEqual({ kind: 'zone', name: 'az1' });
    expect(scopeOf({ all: true })).toEqual({ kind: 'all', name: '' });
    expect(() => scopeOf({})).toThrow(/exactly one scope.*got none/);
    expect(() => scopeOf({ host: 'a', zone: 'b' })).toThrow(/got host:a, zone:b/);
    expect(() => scopeOf({ host: ' ' })).toThrow(/host must be a non-empty name/);
  });

  it('covers a host by name, zone, aggregate, or all; unknown aggregates are neither', () => {
    const p = { host: 'c1', zone: 'az1', groups: ['gpu'] };
    expect(covers({ kind: 'host', name: 'c1' }, p)).toBe(true);
    expect(covers({ kind: 'zone', name: 'az2' }, p)).toBe(false);
    expect(covers({ kind: 'aggregate', name: 'gpu' }, p)).toBe(true);
    expect(covers({ kind: 'aggregate', name: 'gpu' }, { ...p, groups: null })).toBeNull();
    expect(covers({ kind: 'all', name: '' }, p)).toBe(true);
  });

  it('holds a host back when its aggregates cannot be read and an aggregate is disarmed (hands off, as asked)', () => {
    expect(disarmOf([entry('aggregate', 'gpu')], { host: 'c1', zone: null, groups: null })?.scope.name).toBe('gpu');
    expect(disarmOf([entry('aggregate', 'gpu')], { host: 'c1', zone: null, groups: [] })).toBeNull();
  });
});

describe('until and overdue', () => {
  it('reads an ISO time or a duration from now, refuses the past and nonsense', () => {
    expect(parseUntil('2h', NOW)).toBe(NOW + 2 * 3_600_000);
    expect(parseUntil('2026-12-08T06:00:00Z', NOW)).toBe(Date.parse('2026-12-08T06:00:00Z'));
    expect(parseUntil(undefined, NOW)).toBeNull();
    expect(() => parseUntil('2026-12-07T21:00:00Z', NOW)).toThrow(/not in the future/);
    expect(() => parseUntil('3600', NOW)).toThrow(/neither an ISO 8601 time/);
    expect(() => parseUntil('tomorrow', NOW)).toThrow(/neither/);
  });

  it('is overdue past its until, or past the limit, not before', () => {
    expect(overdue(entry('all', '', { until: NOW + 1 }), NOW, 3_600_000)).toBeNull();
    expect(overdue(entry('all', '', { until: NOW - 1 }), NOW, 3_600_000)).toMatch(/past its until/);
    expect(overdue(entry('all', '', { at: NOW - 3_600_000 }), NOW, 3_600_000)).toBeNull();
    expect(overdue(entry('all', '', { at: NOW - 3_600_001 }), NOW, 3_600_000)).toMatch(/more than the limit/);
  });
});

describe('viewDisarms', () => {
  it('is pending while an incident in its scope is open, in effect otherwise', () => {
    const place = (h: string) => ({ host: h, zone: h === 'c1' ? 'az1' : 'az2', groups: [] });
    const views = viewDisarms([entry('zone', 'az1'), entry('zone', 'az2')], [{ id: 'c1-1', host: 'c1' }], place, NOW, Infinity);
    expect(views.map((v) => [v.key, v.state, v.pendingOn])).toEqual([['zone:az1', 'pending', ['c1-1']], ['zone:az2', 'in-effect', []]]);
    expect(describeDisarm(views[0]!)).toBe('zone az1 disarmed by alice at 2026-12-07T21:59:00.000Z: maintenance; pending until incident c1-1 ends (no new incident is opened meanwhile)');
  });
});
