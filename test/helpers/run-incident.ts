import { networkConcurrency } from '../../src/evacuator/verify-network.js';
import type { IncidentRecord } from '../../src/incidents/types.js';
import type { PrepareResult } from '../../src/pipeline/prepare-incident.js';
import { retryPolicy, type QueueKind } from '../../src/pipeline/retry-policy.js';
import { GaveUp, runFinalize, runNetwork, runPrepare, runServer, type Attempt } from '../../src/pipeline/runner.js';
import type { StepContext } from '../../src/pipeline/steps/context.js';
import { isHeldBack } from '../../src/pipeline/held-back.js';
import { isRetryable } from '../../src/shared/errors.js';
import { createLimiter } from '../../src/shared/map-limit.js';

// The recovery of one incident in the test's own process, with the runner's phases and final-failure handling
// and retries as the queue makes them: what unit tests drive instead of BullMQ. Production runs the same
// phases only through the queue (src/pipeline/processors.ts).

/** Replaces every queue's tries and first retry delay (default: each queue's own, retry-policy.ts). */
export interface RunOptions {
  readonly attempts?: number;
  readonly backoffMs?: number;
}

/** Runs `phase` with retries, as `queue` would: a retryable error waits and tries again, up to its attempts. */
async function withRetries<T>(ctx: StepContext, opts: RunOptions, queue: QueueKind, phase: (a: Attempt) => Promise<T>): Promise<T> {
  const policy = retryPolicy(queue, opts);
  const max = Math.max(1, policy.attempts);
  for (let n = 1; ; n++) {
    try {
      return await phase({ number: n, max });
    } catch (err) {
      if (err instanceof GaveUp || !isRetryable(err) || n >= max) throw err;
      await ctx.sleep(policy.backoffMs * 2 ** (n - 1), ctx.signal);
    }
  }
}

/** `phase` with retries; a phase that gave up was recorded by the runner, and the incident goes on. */
async function untilGaveUp(ctx: StepContext, opts: RunOptions, queue: QueueKind, phase: (a: Attempt) => Promise<unknown>): Promise<void> {
  try {
    await withRetries(ctx, opts, queue, phase);
  } catch (err) {
    if (!(err instanceof GaveUp)) throw err;
  }
}

/**
 * The whole recovery of one incident in this process, with the same phases and final-failure handling as the
 * queue: servers are evacuated `evacuation.concurrency` at a time, in priority order, and each one's network
 * is then verified outside that limit, `evacuation.network_concurrency` at a time.
 */
export async function runIncident(ctx: StepContext, opts: RunOptions = {}): Promise<IncidentRecord> {
  let prepared: PrepareResult;
  try {
    prepared = await withRetries(ctx, opts, 'incident', (a) => runPrepare(ctx, a));
  } catch (err) {
    if (err instanceof GaveUp) return ctx.store.require(ctx.incidentId);
    throw err;
  }
  if (prepared.kind !== 'evacuate') return ctx.store.require(ctx.incidentId);
  const evacuationSlot = createLimiter(ctx.evacuation.concurrency);
  const networkSlot = createLimiter(networkConcurrency(ctx.evacuation));
  await Promise.all(prepared.serverIds.map(async (serverId) => {
    // A server held by its tier's gate, or waiting for room, gives its slot back and waits, as the queue delays its job.
    for (;;) {
      try {
        await evacuationSlot(() => untilGaveUp(ctx, opts, 'evacuate', (a) => runServer(ctx, { serverId }, a)));
        break;
      } catch (err) {
        if (!isHeldBack(err)) throw err;
        await ctx.sleep(err.waitMs, ctx.signal);
      }
    }
    await networkSlot(() => untilGaveUp(ctx, opts, 'network', (a) => runNetwork(ctx, { serverId }, a)));
  }));
  try {
    return await withRetries(ctx, opts, 'finalize', (a) => runFinalize(ctx, a));
  } catch (err) {
    if (err instanceof GaveUp) return ctx.store.require(ctx.incidentId);
    throw err;
  }
}
