import { describe, expect, it } from 'vitest';
import { PowerWitness, type PowerRead } from '../../../src/detector/power-witness.js';
import { silentLogger } from '../../../src/shared/logger.js';

/** A BMC whose reads the test answers one by one. */
function fakeBmc() {
  const pending: Array<{ resolve: (s: 'on' | 'off' | 'unknown') => void; reject: (e: Error) => void; signal: AbortSignal }> = [];
  const read: PowerRead = (signal) => new Promise((resolve, reject) => {
    pending.push({ resolve, reject, signal });
    signal.addEventListener('abort', () => reject(new Error('read timed out')), { once: true });
  });
  return { read, pending };
}
const settle = () => new Promise((r) => setImmediate(r));

function witness(readers: Record<string, PowerRead>, opts: { maxInFlight?: number } = {}) {
  const clock = { t: 0 };
  const w = new PowerWitness({
    mono: () => clock.t, log: silentLogger, minIntervalMs: 1000, timeoutMs: 60_000, ...opts,
    readerFor: (h) => (readers[h] ? { read: readers[h]!, where: `ipmi 198.18.9.${h.length}:623` } : null),
  });
  return { w, clock };
}

describe('PowerWitness', () => {
  it('answers at once with the last read, starting at most one read a host per interval; a slow BMC holds nothing', async () => {
    const a = fakeBmc();
    const { w, clock } = witness({ c1: a.read });
    expect(w.look(['c1']).size).toBe(0); // the read started, nothing answered yet
    expect(a.pending).toHaveLength(1);
    clock.t = 500;
    w.look(['c1']);
    expect(a.pending).toHaveLength(1); // in flight: not asked twice
    a.pending[0]!.resolve('off');
    await settle();
    clock.t = 800;
    expect(w.look(['c1']).get('c1')).toMatchObject({ state: 'off', atMono: 500, detail: 'power read off from ipmi 198.18.9.2:623' });
    expect(a.pending).toHaveLength(1); // under the interval since the last start
    clock.t = 1000;
    const first = w.look(['c1']).get('c1')!;
    expect(a.pending).toHaveLength(2);
    a.pending[1]!.resolve('off');
    await settle();
    expect(w.look(['c1']).get('c1')!.seq).toBeGreaterThan(first.seq);
    w.stop();
  });

  it('a read that fails or times out is an unknown, with the reason', async () => {
    const a = fakeBmc();
    const { w, clock } = witness({ c1: a.read });
    w.look(['c1']);
    a.pending[0]!.reject(new Error('ipmitool: Unable to establish IPMI v2 / RMCP+ session'));
    await settle();
    clock.t = 100;
    expect(w.look(['c1']).get('c1')).toMatchObject({ state: 'unknown', detail: expect.stringMatching(/power not read from ipmi .*: ipmitool: Unable to establish/) });
    w.stop();
  });

  it('forgets a host no longer asked about, so an old off is never shown for a later suspicion', async () => {
    const a = fakeBmc();
    const { w, clock } = witness({ c1: a.read });
    w.look(['c1']);
    a.pending[0]!.resolve('off');
    await settle();
    expect(w.look(['c1']).has('c1')).toBe(true);
    w.look([]);
    clock.t = 100;
    expect(w.look(['c1']).has('c1')).toBe(false);
    w.stop();
  });

  it('asks hosts without a witness device nothing, and at most maxInFlight BMCs at once', () => {
    const a = fakeBmc();
    const b = fakeBmc();
    const c = fakeBmc();
    const { w } = witness({ c1: a.read, c2: b.read, c3: c.read }, { maxInFlight: 2 });
    w.look(['c1', 'c2', 'c3', 'noop-host']);
    expect([a.pending.length, b.pending.length, c.pending.length]).toEqual([1, 1, 0]);
    w.stop();
  });
});
