import { describe, expect, it } from 'vitest';
import type { IncidentStatus } from '../../../src/incidents/types.js';
import { recoveryEnd } from '../../../src/pipeline/ended.js';
import { jobOptions, RETRY_POLICIES, retryPolicy } from '../../../src/pipeline/retry-policy.js';

describe('whether a recovery has ended', () => {
  it('reads the status alone: closed when terminal, waiting while a fence waits for an operator, else running', () => {
    const table: Array<[IncidentStatus, ReturnType<typeof recoveryEnd>]> = [
      ['open', null], ['fencing', null], ['fenced', null], ['evacuating', null], ['verifying', null], ['awaiting_fence', 'waiting'],
      ['resolved', 'closed'], ['partial', 'closed'], ['failed', 'closed'], ['aborted', 'closed'],
    ];
    for (const [status, end] of table) expect(recoveryEnd(status), status).toBe(end);
  });
});

describe('retry policy per queue', () => {
  it('each of the four queues has its own; closing is tried longest', () => {
    expect(Object.keys(RETRY_POLICIES).sort()).toEqual(['evacuate', 'finalize', 'incident', 'network']);
    expect(RETRY_POLICIES.finalize.attempts).toBeGreaterThan(RETRY_POLICIES.incident.attempts);
    expect(jobOptions('finalize')).toMatchObject({ attempts: 8, backoff: { type: 'exponential', delay: 2000 } });
    expect(jobOptions('evacuate')).toMatchObject({ attempts: 6, backoff: { delay: 1000 } });
  });

  it('a caller\'s tuning replaces tries and delay for every queue', () => {
    expect(retryPolicy('finalize', { attempts: 2, backoffMs: 50 })).toEqual({ attempts: 2, backoffMs: 50 });
    expect(retryPolicy('network', { backoffMs: 50 })).toEqual({ attempts: RETRY_POLICIES.network.attempts, backoffMs: 50 });
  });
});
