/**
 * Whether this controller may still act. Whoever holds leadership injects it (the leader lease, or a test's
 * stand-in); `assertLeading` throws a non-retryable CmphaError with code `deposed` once another controller has
 * taken over, and is called right before every mutation.
 */
export interface Leadership {
  assertLeading(signal?: AbortSignal): Promise<void>;
}
