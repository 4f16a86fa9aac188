import { describe, expect, it } from 'vitest';
import { createMemoryThrottle } from '../../../src/notifier/throttle.js';

describe('memory throttle', () => {
  it('claims a key once per window and again after it, or after release', async () => {
    const t = createMemoryThrottle();
    expect(await t.claim('k', 1000, 0)).toBe(true);
    expect(await t.claim('k', 1000, 999)).toBe(false);
    expect(await t.claim('k', 1000, 1000)).toBe(true);
    await t.release('k');
    expect(await t.claim('k', 1000, 1001)).toBe(true);
  });

  it('counts messages per recipient in a sliding hour', async () => {
    const t = createMemoryThrottle();
    const hour = 3_600_000;
    expect(await t.take('a', 2, hour, 0)).toBe(true);
    expect(await t.take('a', 2, hour, 10)).toBe(true);
    expect(await t.take('a', 2, hour, 20)).toBe(false);
    expect(await t.take('b', 2, hour, 20)).toBe(true);
    expect(await t.take('a', 2, hour, hour + 1)).toBe(true);
    expect(await t.take('a', 2, hour, hour + 2)).toBe(false);
  });
});
