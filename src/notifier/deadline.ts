/**
 * Rejects when `work` has not settled after `ms`. Redis clients shared with BullMQ queue commands forever
 * while disconnected (maxRetriesPerRequest: null); a notification must not wait for Redis to come back.
 */
export function beforeDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    work.then(
      (v) => { clearTimeout(timer); resolve(v); },
      (e: unknown) => { clearTimeout(timer); reject(e); },
    );
  });
}

export const REDIS_DEADLINE_MS = 2000;
