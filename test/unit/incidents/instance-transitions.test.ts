import { describe, expect, it } from 'vitest';
import {
  checkInstanceMove, destinationOf, INITIAL_INSTANCE_STATES, INSTANCE_TRANSITIONS, nextInstanceState, type InstanceEvent,
} from '../../../src/incidents/instance-transitions.js';
import { FINAL_INSTANCE_STATES, isFinalInstanceState, type InstanceState } from '../../../src/incidents/types.js';

// Everything below is derived from the table, so a new state or event is covered without editing this file.
const STATES = Object.keys(INSTANCE_TRANSITIONS) as InstanceState[];
const EVENTS = [...new Set(STATES.flatMap((s) => Object.keys(INSTANCE_TRANSITIONS[s]) as InstanceEvent[]))];
const legal = STATES.flatMap((from) => EVENTS.filter((ev) => nextInstanceState(from, ev) !== undefined).map((ev) => [from, ev, nextInstanceState(from, ev)!] as const));
const illegal = STATES.flatMap((from) => EVENTS.filter((ev) => nextInstanceState(from, ev) === undefined).map((ev) => [from, ev, destinationOf(ev)] as const));

describe('per-server state table', () => {
  it('knows every state, and calls final exactly the states the rest of the code does', () => {
    expect(new Set(STATES)).toEqual(new Set([...FINAL_INSTANCE_STATES, 'pending', 'awaiting_capacity', 'evacuating', 'evacuated']));
    for (const s of INITIAL_INSTANCE_STATES) expect(STATES).toContain(s);
  });

  it('gives every event one destination, wherever it is allowed', () => {
    for (const [, ev, to] of legal) expect(to).toBe(destinationOf(ev));
  });

  it('never leads out of a final state to one where anything more is done to the server', () => {
    for (const [from, , to] of legal) if (isFinalInstanceState(from)) expect(isFinalInstanceState(to)).toBe(true);
    // The one way out of a settled state: a double writer found after verification.
    expect(legal.filter(([from]) => isFinalInstanceState(from)).map(([from, ev, to]) => `${from} -${ev}-> ${to}`)).toEqual(['verified -double_writer-> failed']);
  });

  it('reaches every state from the ones an entry is recorded in', () => {
    const seen = new Set<InstanceState>(INITIAL_INSTANCE_STATES);
    for (let grew = true; grew;) {
      grew = false;
      for (const [from, , to] of legal) if (seen.has(from) && !seen.has(to)) { seen.add(to); grew = true; }
    }
    expect([...seen].sort()).toEqual([...STATES].sort());
  });

  it.each(legal)('allows %s on %s (to %s)', (from, ev, to) => {
    expect(checkInstanceMove('inc', 'srv', from, ev)).toBe(to);
  });

  it.each(illegal)('refuses %s on %s, naming both states', (from, ev, to) => {
    expect(() => checkInstanceMove('inc', 'srv', from, ev)).toThrow(expect.objectContaining({
      code: 'instance_illegal_transition',
      message: `incident inc server srv: illegal move from ${from} to ${to} on ${ev}`,
      context: { incidentId: 'inc', serverId: 'srv', from, to, event: ev },
    }));
  });
});

describe('server states: lock, reset, restore', () => {
  it('a lock and a reset are recorded only before the evacuate request; nothing after it resets a server', () => {
    expect(nextInstanceState('pending', 'lock_recorded')).toBe('pending');
    expect(nextInstanceState('pending', 'reset_requested')).toBe('pending');
    for (const s of ['evacuating', 'evacuated', 'verified', 'failed', 'skipped'] as const) {
      expect(nextInstanceState(s, 'reset_requested')).toBeUndefined();
      expect(nextInstanceState(s, 'lock_recorded')).toBeUndefined();
    }
  });

  it('the state a server had is put back only once it runs on its new host; shown there, it is verified, otherwise degraded', () => {
    expect(nextInstanceState('evacuated', 'restore_requested')).toBe('evacuated');
    expect(nextInstanceState('pending', 'restore_requested')).toBeUndefined();
    expect(nextInstanceState('evacuating', 'state_verified')).toBeUndefined();
    expect(nextInstanceState('evacuated', 'state_verified')).toBe('verified');
    expect(nextInstanceState('evacuated', 'state_not_restored')).toBe('degraded');
  });
});
