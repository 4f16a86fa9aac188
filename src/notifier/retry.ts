import { CmphaError, errorMessage } from '../shared/errors.js';
import { sleep } from '../shared/time.js';
import type { RetryPolicy } from './channel-options.js';

/** How a channel classifies one failed attempt. */
export type AttemptVerdict = 'retry' | 'retry-once' | 'stop';

/** A failed delivery: the message is safe to log and store (secrets redacted), `attempts` says how many were made. */
export class ChannelError extends CmphaError {
  readonly attempts: number;
  constructor(code: string, message: string, attempts: number, opts: { retryable?: boolean } = {}) {
    super(code, message, { retryable: opts.retryable ?? false, context: { attempts } });
    this.name = 'ChannelError';
    this.attempts = attempts;
  }
}

export interface AttemptFailure {
  readonly verdict: AttemptVerdict;
  /** Already redacted. */
  readonly message: string;
  readonly code: string;
}

/**
 * Runs `attempt` until it succeeds, the policy's retries are used up, the failure says stop, or `signal`
 * aborts. Backoff doubles from `baseDelayMs` up to `maxDelayMs` with a little jitter so that many channels
 * failing together do not retry in step. `retry-once` failures (e.g. an SMTP auth error, which may come from
 * one bad backend behind a load balancer) get a single second try, not the whole budget.
 */
export async function withRetries<T>(
  policy: RetryPolicy,
  signal: AbortSignal,
  attempt: (n: number) => Promise<T>,
  classify: (err: unknown) => AttemptFailure,
): Promise<{ value: T; attempts: number }> {
  for (let n = 1; ; n++) {
    let failure: AttemptFailure;
    try {
      return { value: await attempt(n), attempts: n };
    } catch (err) {
      failure = signal.aborted ? abortedFailure(signal) : classify(err);
    }
    const limit = failure.verdict === 'retry' ? policy.retries : failure.verdict === 'retry-once' ? Math.min(1, policy.retries) : 0;
    if (signal.aborted || n > limit) {
      const suffix = n > 1 ? ` (after ${n} attempts)` : '';
      throw new ChannelError(failure.code, `${failure.message}${suffix}`, n, { retryable: failure.verdict !== 'stop' });
    }
    const delay = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (n - 1));
    try {
      await sleep(delay + Math.random() * delay * 0.1, signal);
    } catch {
      const f = abortedFailure(signal);
      throw new ChannelError(f.code, `${failure.message}; ${f.message} (after ${n} attempts)`, n, { retryable: true });
    }
  }
}

function abortedFailure(signal: AbortSignal): AttemptFailure {
  const reason = signal.reason as unknown;
  const timedOut = reason instanceof Error && reason.name === 'TimeoutError';
  return { verdict: 'stop', code: timedOut ? 'notify_timeout' : 'notify_aborted', message: timedOut ? 'gave up: channel time budget used up' : `aborted: ${errorMessage(reason)}` };
}

/**
 * The longest `withRetries` can take when each attempt is bounded by `attemptMs`, plus a margin so the
 * attempt's own timeout (with its precise message) fires before the caller's budget does.
 */
export function retryBudgetMs(policy: RetryPolicy, attemptMs: number): number {
  let backoff = 0;
  for (let k = 0; k < policy.retries; k++) backoff += Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** k) * 1.1;
  return Math.ceil(attemptMs * (policy.retries + 1) + backoff + 1000);
}
