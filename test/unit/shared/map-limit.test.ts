import { describe, expect, it } from 'vitest';
import { createLimiter, mapLimit } from '../../../src/shared/map-limit.js';

/** A task that records when it ran and finishes when the test says. */
function gated(log: string[], name: string) {
  let release!: () => void;
  const done = new Promise<void>((r) => { release = r; });
  return { release, run: async () => { log.push(`start ${name}`); await done; log.push(`end ${name}`); return name; } };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('createLimiter', () => {
  it('runs at most `limit` at once, the others in the order they came, across calls made at different times', async () => {
    const log: string[] = [];
    const limit = createLimiter(2);
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => gated(log, n));
    const pa = limit(a!.run);
    const pb = limit(b!.run);
    const pc = limit(c!.run);
    await tick();
    expect(log).toEqual(['start a', 'start b']);
    const pd = limit(d!.run);
    b!.release();
    await pb;
    await tick();
    expect(log).toEqual(['start a', 'start b', 'end b', 'start c']);
    a!.release();
    c!.release();
    d!.release();
    expect(await Promise.all([pa, pc, pd])).toEqual(['a', 'c', 'd']);
    expect(log.indexOf('start d')).toBeGreaterThan(log.indexOf('end a'));
  });

  it('frees the place of a task that failed', async () => {
    const limit = createLimiter(1);
    await expect(limit(async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    expect(await limit(async () => 'next')).toBe('next');
  });
});

describe('mapLimit', () => {
  it('keeps the input order with at most `limit` in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const out = await mapLimit([3, 1, 2, 5, 4], 2, async (n) => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, n));
      inFlight--;
      return n * 10;
    });
    expect(out).toEqual([30, 10, 20, 50, 40]);
    expect(most).toBe(2);
  });
});
