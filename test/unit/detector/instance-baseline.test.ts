import { describe, expect, it } from 'vitest';
import { InstanceBaseline } from '../../../src/detector/instance-addresses.js';

describe('instance baseline', () => {
  it('takes at most newPerRound new hosts a round, so a start on a large cloud does not list every server at once', () => {
    const b = new InstanceBaseline(1000, 2);
    const hosts = ['a', 'b', 'c', 'd', 'e'];
    const first = b.due(1, hosts);
    expect(first).toEqual(['a', 'b']);
    for (const h of first) b.record(h, [], new Map(), 0);
    const second = b.due(2, hosts).filter((h) => !first.includes(h));
    expect(second).toEqual(['c', 'd']);
  });
});

const at = (ip: string, server = 's') => ({ ip, server, network: 'provider' });
const answers = (alive: string[], silent: string[] = []) =>
  new Map([...alive.map((ip) => [ip, 'alive'] as const), ...silent.map((ip) => [ip, 'silent'] as const)]);

describe('instance baseline after a server change', () => {
  it('makes a baselined host due at once, and again while the new address has not answered, up to the looks allowed', () => {
    const b = new InstanceBaseline(1000, 100, 100, 3);
    b.record('a', [at('10.0.0.1')], answers(['10.0.0.1']), 1);
    b.record('b', [], new Map(), 1);
    expect(b.due(5, ['a', 'b'])).toEqual([]);
    b.serverChanged('a');
    expect(b.due(6, ['a', 'b'])).toEqual(['a']);
    // The new guest is still booting: silent, so the host stays due.
    b.record('a', [at('10.0.0.1'), at('10.0.0.2', 'new')], answers(['10.0.0.1'], ['10.0.0.2']), 2);
    expect(b.due(7, ['a', 'b'])).toEqual(['a']);
    b.record('a', [at('10.0.0.1'), at('10.0.0.2', 'new')], answers(['10.0.0.1', '10.0.0.2']), 3);
    expect(b.isBaseline('10.0.0.2')).toBe(true);
    expect(b.lastAnsweredAt('10.0.0.2')).toBe(3);
    expect(b.due(8, ['a', 'b'])).toEqual([]);
    // A server that never answers (shut off, firewalled) costs at most the looks allowed.
    b.serverChanged('a');
    for (let i = 0; i < 3; i++) {
      expect(b.due(9 + i, ['a'])).toEqual(['a']);
      b.record('a', [at('10.0.0.3')], answers([], ['10.0.0.3']), 4 + i);
    }
    expect(b.due(12, ['a'])).toEqual([]);
  });

  it('takes at most changedPerRound changed hosts a round, and none that is not healthy', () => {
    const b = new InstanceBaseline(1000, 100, 2, 3);
    for (const h of ['a', 'b', 'c']) { b.record(h, [], new Map(), 0); b.serverChanged(h); }
    expect(b.due(5, ['a', 'b', 'c'])).toEqual(['a', 'b']);
    expect(b.due(5, ['c'])).toEqual(['c']);
  });

  it('drops an address its host no longer lists, and gives a moved one to its new host', () => {
    const b = new InstanceBaseline(1000);
    b.record('a', [at('10.0.0.1'), at('10.0.0.2')], answers(['10.0.0.1', '10.0.0.2']), 1);
    // 10.0.0.2 moved to b and answers there; 10.0.0.1 was deleted.
    b.record('b', [at('10.0.0.2')], answers(['10.0.0.2']), 2);
    b.record('a', [], new Map(), 3);
    expect(b.isBaseline('10.0.0.1')).toBe(false);
    expect(b.isBaseline('10.0.0.2')).toBe(true);
    expect(b.lastAnsweredAt('10.0.0.2')).toBe(2);
    // An address whose probe said nothing keeps its last answer.
    b.record('b', [at('10.0.0.2')], new Map(), 4);
    expect(b.lastAnsweredAt('10.0.0.2')).toBe(2);
  });

  it('keeps a baseline address through one silent look (a look straddling the failure), drops it after two in a row', () => {
    const b = new InstanceBaseline(1000);
    b.record('a', [at('10.0.0.1')], answers(['10.0.0.1']), 1);
    b.record('a', [at('10.0.0.1')], answers([], ['10.0.0.1']), 2);
    expect(b.isBaseline('10.0.0.1')).toBe(true);
    expect(b.lastAnsweredAt('10.0.0.1')).toBe(1);
    // An answer in between starts the count again.
    b.record('a', [at('10.0.0.1')], answers(['10.0.0.1']), 3);
    b.record('a', [at('10.0.0.1')], answers([], ['10.0.0.1']), 4);
    expect(b.isBaseline('10.0.0.1')).toBe(true);
    b.record('a', [at('10.0.0.1')], answers([], ['10.0.0.1']), 5);
    expect(b.isBaseline('10.0.0.1')).toBe(false);
    // A silent address that never answered is no baseline at all.
    b.record('a', [at('10.0.0.9')], answers([], ['10.0.0.9']), 6);
    expect(b.isBaseline('10.0.0.9')).toBe(false);
  });
});
