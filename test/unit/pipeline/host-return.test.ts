import { describe, expect, it } from 'vitest';
import type { IncidentRecord } from '../../../src/incidents/types.js';
import { decideReturn, fenceSawPowerOff, steadyMs, trackSteady, type ReturnSettings, type Steadiness } from '../../../src/pipeline/host-return.js';

const S: ReturnSettings = { returnRepairedHosts: true, powerOnFencedHosts: true, steadyForMs: 60_000, heartbeatGapMs: 15_000, returnTimeoutMs: 1, pollIntervalMs: 1, spareReasonPrefix: 'down_prepare' };
const fence = (driver: string, extra: Partial<NonNullable<IncidentRecord['fence']>> = {}) => ({ driver, target: 't', unfenced: false, alreadyOff: false, durationMs: 1, at: 1, ...extra });
const closed = (f = fence('ipmi')) => ({ id: 'i', host: 'c1', closedAt: 5, fence: f } as unknown as IncidentRecord);

describe('a repaired host\'s return', () => {
  it('steadiness: counted from the first move seen, broken by a gap longer than the heartbeat gap', () => {
    let s: Steadiness | undefined;
    const feed = (hb: number | null, mono: number) => { s = trackSteady(s, hb, mono, 15_000); return steadyMs(s, mono); };
    expect(feed(100, 0)).toBe(0); // first reading: nothing known yet
    expect(feed(100, 10_000)).toBe(0); // not moving (powered off)
    expect(feed(200, 20_000)).toBe(0); // first move: the run starts here
    expect(feed(210, 30_000)).toBe(10_000);
    expect(feed(220, 40_000)).toBe(20_000);
    expect(feed(220, 56_000)).toBe(0); // silent for 16 s > 15 s: not steady any more
    expect(feed(230, 60_000)).toBe(0); // moves again: a new run
    expect(feed(240, 70_000)).toBe(10_000);
  });

  it('the blocklist is lifted only when a power device read the host off (not a human, not a storage or crash-kernel level)', () => {
    expect(fenceSawPowerOff(closed(fence('ipmi')))).toBe(true);
    expect(fenceSawPowerOff(closed(fence('kdump+ipmi')))).toBe(true);
    expect(fenceSawPowerOff(closed(fence('ceph')))).toBe(false);
    expect(fenceSawPowerOff(closed(fence('kdump')))).toBe(false);
    expect(fenceSawPowerOff(closed(fence('ipmi', { confirmedBy: { user: 'a', at: 1, note: 'n' } })))).toBe(false);
    expect(fenceSawPowerOff(closed(fence('noop', { unfenced: true })))).toBe(false);
  });

  it('decides: wait while open or unsteady; power on only when every server left; return once steady', () => {
    const base = { record: closed(), steadyMs: 0, guests: 0, power: null, poweredOnByCmpha: false } as const;
    expect(decideReturn({ ...base, record: { ...closed(), closedAt: undefined } as IncidentRecord }, S)).toEqual({ kind: 'wait', why: 'its incident is still open' });
    expect(decideReturn({ ...base, power: 'off', guests: 2 }, S)).toMatchObject({ kind: 'wait', why: expect.stringMatching(/2 server\(s\) are still placed on it/) });
    expect(decideReturn({ ...base, power: 'off' }, S)).toEqual({ kind: 'power-on' });
    expect(decideReturn({ ...base, power: 'off', poweredOnByCmpha: true }, S)).toMatchObject({ kind: 'wait' });
    expect(decideReturn({ ...base, power: 'off' }, { ...S, powerOnFencedHosts: false })).toMatchObject({ kind: 'wait', why: 'its heartbeat is not back' });
    expect(decideReturn({ ...base, steadyMs: 59_999 }, S)).toMatchObject({ kind: 'wait', why: expect.stringMatching(/not steady for long enough/) });
    expect(decideReturn({ ...base, steadyMs: 60_000 }, S)).toEqual({ kind: 'return', powerCycled: true });
    expect(decideReturn({ ...base, steadyMs: 60_000, record: closed(fence('ceph')) }, S)).toEqual({ kind: 'return', powerCycled: false });
    expect(decideReturn({ ...base, steadyMs: 60_000 }, { ...S, returnRepairedHosts: false })).toEqual({ kind: 'wait', why: 'return_repaired_hosts is off' });
  });
});
