/**
 * Every error cmpha raises on purpose carries a stable `code` (used in metrics, incident records and alerts)
 * and whether retrying can help. Retryability is decided where the error is thrown, not where it is caught:
 * BullMQ keeps only message and stack across Redis, so classify before a job fails.
 */
export class CmphaError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  readonly context: Readonly<Record<string, unknown>>;

  constructor(
    code: string,
    message: string,
    opts: { retryable?: boolean; cause?: unknown; context?: Record<string, unknown> } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'CmphaError';
    this.code = code;
    this.retryable = opts.retryable ?? false;
    this.context = Object.freeze({ ...(opts.context ?? {}) });
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

export function isRetryable(err: unknown): boolean {
  return err instanceof CmphaError && err.retryable;
}
