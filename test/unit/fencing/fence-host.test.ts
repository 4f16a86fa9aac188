import { describe, expect, it } from 'vitest';
import { fenceHost, type FenceHostOptions } from '../../../src/fencing/fence-host.js';
import { NoopDriver } from '../../../src/fencing/noop-driver.js';
import type { FenceDriver, PowerState } from '../../../src/fencing/types.js';
import { CmphaError } from '../../../src/shared/errors.js';

type Step = PowerState | CmphaError;

/** A driver that answers status reads from a script (the last entry repeats) and records every call. */
class ScriptedDriver implements FenceDriver {
  readonly kind = 'ipmi' as const;
  readonly target = 'ipmi://192.0.2.10:623';
  readonly calls: string[] = [];
  constructor(private readonly statuses: Step[], private readonly offs: (CmphaError | undefined)[] = []) {}
  async powerStatus(): Promise<PowerState> {
    this.calls.push('status');
    const next = this.statuses.length > 1 ? this.statuses.shift()! : this.statuses[0]!;
    if (next instanceof CmphaError) throw next;
    return next;
  }
  async powerOff(): Promise<void> {
    this.calls.push('off');
    const next = this.offs.shift();
    if (next) throw next;
  }
  async powerOn(): Promise<void> {
    this.calls.push('on');
  }
}

const OPTS: FenceHostOptions = { timeoutMs: 2000, pollIntervalMs: 1, attempts: 3 };
const unreachable = () => new CmphaError('bmc_unreachable', 'no answer', { retryable: true });
const authFailed = () => new CmphaError('bmc_auth_failed', 'the BMC rejected the password');

describe('fenceHost', () => {
  it('powers off, then succeeds only once the state reads off', async () => {
    const d = new ScriptedDriver(['on', 'on', 'on', 'off']);
    const r = await fenceHost(d, OPTS);
    expect(r).toMatchObject({ ok: true, alreadyOff: false, unfenced: false });
    expect(d.calls).toEqual(['status', 'off', 'status', 'status', 'status']);
  });

  it('sends nothing when the host is already off', async () => {
    const d = new ScriptedDriver(['off']);
    expect(await fenceHost(d, OPTS)).toMatchObject({ ok: true, alreadyOff: true });
    expect(d.calls).toEqual(['status']);
  });

  it('powers off a host whose state is unknown, and trusts only a later off', async () => {
    const d = new ScriptedDriver(['unknown', 'off']);
    expect(await fenceHost(d, OPTS)).toMatchObject({ ok: true, alreadyOff: false });
    expect(d.calls).toEqual(['status', 'off', 'status']);
  });

  it('fails with power_state_unknown when the state never becomes readable', async () => {
    const r = await fenceHost(new ScriptedDriver(['unknown']), { ...OPTS, timeoutMs: 100 });
    expect(r).toMatchObject({ ok: false, code: 'power_state_unknown', lastState: 'unknown' });
  });

  it('fails with fence_timeout when the power stays on', async () => {
    const r = await fenceHost(new ScriptedDriver(['on']), { ...OPTS, timeoutMs: 100 });
    expect(r).toMatchObject({ ok: false, code: 'fence_timeout', lastState: 'on' });
  });

  it('retries a retryable error up to the attempts, then succeeds', async () => {
    const d = new ScriptedDriver([unreachable(), unreachable(), 'on', 'off']);
    const r = await fenceHost(d, OPTS);
    expect(r.ok).toBe(true);
    expect(r.events.filter((e) => e.kind === 'error').map((e) => [e.code, e.attempt])).toEqual([['bmc_unreachable', 1], ['bmc_unreachable', 2]]);
  });

  it('gives up with the error code after the attempts run out', async () => {
    const d = new ScriptedDriver([unreachable()]);
    const r = await fenceHost(d, OPTS);
    expect(r).toMatchObject({ ok: false, code: 'bmc_unreachable' });
    expect(d.calls).toEqual(['status', 'status', 'status']);
  });

  it('does not retry a non-retryable error', async () => {
    const d = new ScriptedDriver([authFailed()]);
    const r = await fenceHost(d, OPTS);
    expect(r).toMatchObject({ ok: false, code: 'bmc_auth_failed', reason: 'the BMC rejected the password' });
    expect(d.calls).toEqual(['status']);
  });

  it('retries a transient power-off failure', async () => {
    const d = new ScriptedDriver(['on', 'off'], [new CmphaError('bmc_error', 'Node busy', { retryable: true })]);
    expect(await fenceHost(d, OPTS)).toMatchObject({ ok: true });
    expect(d.calls).toEqual(['status', 'off', 'off', 'status']);
  });

  it('keeps reading through transient errors after the power-off', async () => {
    const d = new ScriptedDriver(['on', unreachable(), unreachable(), unreachable(), unreachable(), 'off']);
    expect(await fenceHost(d, OPTS)).toMatchObject({ ok: true });
  });

  it('stops at once when a read after the power-off is refused', async () => {
    const d = new ScriptedDriver(['on', authFailed()]);
    expect(await fenceHost(d, OPTS)).toMatchObject({ ok: false, code: 'bmc_auth_failed', lastState: 'on' });
  });

  it('reports a transient error that outlasted the timeout by its own code', async () => {
    const d = new ScriptedDriver([unreachable()]);
    const r = await fenceHost(d, { ...OPTS, attempts: 1_000_000, pollIntervalMs: 10, timeoutMs: 100 });
    expect(r).toMatchObject({ ok: false, code: 'bmc_unreachable' });
  });

  it('returns fence_aborted when the caller cancels', async () => {
    const ac = new AbortController();
    const d = new ScriptedDriver(['on']);
    const pending = fenceHost(d, { ...OPTS, timeoutMs: 60_000, pollIntervalMs: 50, signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    expect(await pending).toMatchObject({ ok: false, code: 'fence_aborted' });
  });

  it('turns an unexpected throw into a failure instead of throwing', async () => {
    const d = new ScriptedDriver(['on']);
    d.powerOff = async () => { throw new TypeError('boom'); };
    expect(await fenceHost(d, OPTS)).toMatchObject({ ok: false, code: 'bmc_error', reason: 'boom' });
  });

  it('stamps every event with the injected clock and hands it to onEvent as it happens', async () => {
    let t = 1000;
    const seen: string[] = [];
    const r = await fenceHost(new ScriptedDriver(['on', 'off']), {
      ...OPTS,
      timeoutMs: 60_000,
      clock: { now: () => t },
      // Time moves only when something happens, so the stamps do not depend on how often the clock is read.
      onEvent: (e) => { seen.push(e.kind); t += 1000; throw new Error('observer bug'); },
    });
    expect(r.ok).toBe(true);
    expect(seen).toEqual(['status', 'power-off', 'status']);
    expect(r.events.map((e) => e.at)).toEqual([1000, 2000, 3000]);
    expect(r.durationMs).toBe(3000);
  });

  it('marks a noop fence as unfenced, loudly', async () => {
    const r = await fenceHost(new NoopDriver('compute-9'), OPTS);
    expect(r).toMatchObject({ ok: true, unfenced: true });
    expect(r.events.some((e) => /NOT powered off/.test(e.detail))).toBe(true);
  });
});
