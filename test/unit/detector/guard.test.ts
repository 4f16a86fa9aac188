import { describe, expect, it } from 'vitest';
import { evaluateStorm, fractionLimit, incidentId, RELEASED, stepBrake, type StormHost } from '../../../src/detector/guard.js';
import type { Verdict } from '../../../src/detector/types.js';

const hosts = (spec: Array<[string, Verdict, string?]>): StormHost[] => spec.map(([host, verdict, zone]) => ({ host, verdict, zone: zone ?? null }));
const cfg = { maxDeadHosts: 2, maxDeadFraction: 0.33 };

describe('evaluateStorm', () => {
  it('lets one dead host out of many through', () => {
    const e = evaluateStorm(hosts([['a', 'dead'], ['b', 'healthy'], ['c', 'healthy'], ['d', 'healthy']]), cfg);
    expect(e).toEqual({ tripped: false, reason: null, counted: ['a'] });
  });

  it('trips when dead-or-suspect hosts exceed max_dead_hosts', () => {
    const many = hosts([['a', 'dead'], ['b', 'suspect'], ['c', 'unprobeable'], ...Array.from({ length: 20 }, (_, i) => [`h${i}`, 'healthy'] as [string, Verdict])]);
    const e = evaluateStorm(many, cfg);
    expect(e.tripped).toBe(true);
    expect(e.reason).toContain('3 hosts look dead or suspect (limit max_dead_hosts = 2)');
    expect(evaluateStorm(many.filter((h) => h.host !== 'c'), cfg).tripped).toBe(false);
  });

  it('trips on the fraction of enabled hosts, ignoring maintenance hosts', () => {
    const e = evaluateStorm(hosts([['a', 'dead'], ['b', 'dead'], ['c', 'healthy'], ['d', 'healthy'], ['e', 'maintenance']]), { maxDeadHosts: 10, maxDeadFraction: 0.33 });
    expect(e.tripped).toBe(true);
    expect(e.reason).toContain('2 of 4 enabled hosts in the cloud');
    const f = evaluateStorm(hosts([['a', 'dead'], ['b', 'dead'], ...Array.from({ length: 5 }, (_, i) => [`h${i}`, 'healthy'] as [string, Verdict])]), { maxDeadHosts: 10, maxDeadFraction: 0.33 });
    expect(f.tripped).toBe(false); // 2 of 7 = 0.29
  });

  // The documented rule (docs/operations.md "Storm brake"), at its boundaries.
  const healthy = (n: number) => Array.from({ length: n }, (_, i) => [`h${i}`, 'healthy'] as [string, Verdict]);
  const dead = (n: number) => Array.from({ length: n }, (_, i) => [`d${i}`, 'dead'] as [string, Verdict]);

  it('max_dead_hosts = 2: two dead hosts pass, three trip', () => {
    const big = { maxDeadHosts: 2, maxDeadFraction: 1 };
    expect(evaluateStorm(hosts([...dead(2), ...healthy(20)]), big).tripped).toBe(false);
    const e = evaluateStorm(hosts([...dead(3), ...healthy(20)]), big);
    expect(e.tripped).toBe(true);
    expect(e.reason).toBe('3 hosts look dead or suspect (limit max_dead_hosts = 2)');
  });

  it('max_dead_fraction = 0.33 with max_dead_hosts = 2: 2 of 6 pass (a third of 6 is 2 hosts), 3 of 6 trip', () => {
    expect(evaluateStorm(hosts([...dead(2), ...healthy(4)]), cfg)).toMatchObject({ tripped: false, reason: null });
    const e = evaluateStorm(hosts([...dead(3), ...healthy(3)]), { maxDeadHosts: 10, maxDeadFraction: 0.33 });
    expect(e.tripped).toBe(true);
    expect(e.reason).toContain('3 of 6 enabled hosts in the cloud look dead or suspect (limit max_dead_fraction = 0.33, 2 of 6 hosts)');
  });

  it('rounds the fraction to the nearest whole host, never below one', () => {
    expect(fractionLimit(6, 0.33)).toBe(2);
    expect(fractionLimit(4, 0.33)).toBe(1);
    expect(fractionLimit(7, 0.33)).toBe(2);
    expect(fractionLimit(2, 0.33)).toBe(1);
    expect(fractionLimit(10, 0.25)).toBe(3); // 2.5 rounds up
    expect(fractionLimit(100, 0.1)).toBe(10);
  });

  it('never trips the fraction for a single host', () => {
    expect(evaluateStorm(hosts([['a', 'dead'], ['b', 'healthy']]), cfg).tripped).toBe(false);
  });

  it('does not count alerts-only verdicts', () => {
    const e = evaluateStorm(hosts([['a', 'agent-down'], ['b', 'isolated-mgmt'], ['c', 'agent-down'], ['d', 'healthy']]), cfg);
    expect(e).toEqual({ tripped: false, reason: null, counted: [] });
  });

  it('applies the fraction per availability zone', () => {
    const spec: Array<[string, Verdict, string?]> = [
      ['a1', 'dead', 'az1'], ['a2', 'dead', 'az1'], ['a3', 'healthy', 'az1'],
      ...Array.from({ length: 10 }, (_, i) => [`b${i}`, 'healthy', 'az2'] as [string, Verdict, string]),
    ];
    const e = evaluateStorm(hosts(spec), { maxDeadHosts: 10, maxDeadFraction: 0.33 });
    expect(e.tripped).toBe(true); // 2/3 in az1, though 2/13 overall
    expect(e.reason).toContain('zone az1');
    expect(e.reason).not.toContain('az2');
  });
});

describe('stepBrake', () => {
  const tripped = { tripped: true, reason: 'too many', counted: ['a', 'b', 'c'] };
  const calm = { tripped: false, reason: null, counted: ['a'] };

  it('alerts once per storm, not every round', () => {
    const s1 = stepBrake(RELEASED, tripped, false, 1000);
    expect(s1).toMatchObject({ alert: true, state: { active: true, since: 1000 } });
    const s2 = stepBrake(s1.state, tripped, false, 2000);
    expect(s2).toMatchObject({ alert: false, state: { active: true, since: 1000 } });
  });

  it('releases when the count falls back, and alerts again for the next storm', () => {
    const on = stepBrake(RELEASED, tripped, false, 1000).state;
    const off = stepBrake(on, calm, false, 2000);
    expect(off).toMatchObject({ released: true, state: RELEASED });
    expect(stepBrake(off.state, tripped, false, 3000).alert).toBe(true);
  });

  it('lets an operator resume for the current hosts, and brakes again when the storm grows', () => {
    const on = stepBrake(RELEASED, tripped, false, 1000).state;
    const resumed = stepBrake(on, tripped, true, 2000);
    expect(resumed).toMatchObject({ overridden: true, resumeConsumed: true, released: true, state: { active: false } });
    const still = stepBrake(resumed.state, { ...tripped, counted: ['a', 'b'] }, false, 3000);
    expect(still).toMatchObject({ overridden: true, state: { active: false } });
    const grown = stepBrake(still.state, { ...tripped, counted: ['a', 'b', 'c', 'd'] }, false, 4000);
    expect(grown).toMatchObject({ overridden: false, alert: true, state: { active: true, since: 4000 } });
  });

  it('drops a resume request when there is no storm', () => {
    const s = stepBrake(RELEASED, calm, true, 1000);
    expect(s).toMatchObject({ resumeConsumed: true, overridden: false, state: RELEASED });
  });
});

describe('incidentId', () => {
  it('is the host and the epoch second of the first suspect round, without colons', () => {
    expect(incidentId('compute-1', 1_700_000_000_999)).toBe('compute-1-1700000000');
    expect(incidentId('rack1:node:7', 1_700_000_000_000)).toBe('rack1_node_7-1700000000');
    expect(incidentId('compute-1', 1_700_000_000_000)).toBe(incidentId('compute-1', 1_700_000_000_500));
  });
});
