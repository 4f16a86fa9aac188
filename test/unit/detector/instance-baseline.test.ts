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
