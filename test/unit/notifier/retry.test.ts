import { describe, expect, it } from 'vitest';
import { ChannelError, retryBudgetMs, withRetries, type AttemptFailure } from '../../../src/notifier/retry.js';

const policy = { retries: 3, baseDelayMs: 1, maxDelayMs: 5 };
/** The ChannelError a call ends with; a success fails the test. */
const rejection = (p: Promise<unknown>): Promise<ChannelError> =>
  p.then(() => { throw new Error('expected a failure'); }, (e: unknown) => e as ChannelError);
const failing = (verdict: AttemptFailure['verdict']) => (): AttemptFailure => ({ verdict, code: 'x', message: 'boom' });

async function attemptsUntilGiveUp(verdict: AttemptFailure['verdict']): Promise<{ calls: number; err: ChannelError }> {
  let calls = 0;
  const err = await rejection(withRetries(policy, new AbortController().signal, async () => { calls++; throw new Error('no'); }, failing(verdict)));
  return { calls, err };
}

describe('withRetries', () => {
  it('uses all retries for transient failures and says how many attempts were made', async () => {
    const { calls, err } = await attemptsUntilGiveUp('retry');
    expect(calls).toBe(4);
    expect(err).toBeInstanceOf(ChannelError);
    expect(err.attempts).toBe(4);
    expect(err.message).toBe('boom (after 4 attempts)');
  });

  it('tries once more for retry-once failures and never again for stop', async () => {
    expect((await attemptsUntilGiveUp('retry-once')).calls).toBe(2);
    const stop = await attemptsUntilGiveUp('stop');
    expect(stop.calls).toBe(1);
    expect(stop.err.message).toBe('boom');
    expect(stop.err.retryable).toBe(false);
  });

  it('returns the value and the attempt count on success', async () => {
    let n = 0;
    const r = await withRetries(policy, new AbortController().signal, async () => { if (++n < 3) throw new Error('flaky'); return 'ok'; }, failing('retry'));
    expect(r).toEqual({ value: 'ok', attempts: 3 });
  });

  it('stops retrying when the signal aborts', async () => {
    const ac = new AbortController();
    let calls = 0;
    const err = await rejection(withRetries({ retries: 10, baseDelayMs: 10_000, maxDelayMs: 10_000 }, ac.signal, async () => {
      calls++;
      setTimeout(() => ac.abort(new Error('stopping')), 1);
      throw new Error('down');
    }, failing('retry')));
    expect(calls).toBe(1);
    expect(err.message).toBe('boom; aborted: stopping (after 1 attempts)');
  });

  it('budgets attempts, backoff and a margin', () => {
    expect(retryBudgetMs({ retries: 2, baseDelayMs: 100, maxDelayMs: 150 }, 1000)).toBe(3000 + Math.ceil((100 + 150) * 1.1) + 1000);
  });
});
