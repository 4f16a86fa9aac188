import { errorMessage } from './errors.js';
import type { Logger } from './logger.js';

/**
 * Turns the stream of errors every Redis client and queue emits while Redis is away (dozens a second) into
 * three kinds of log line: one warning when the outage starts, a reminder at most every `reminderMs`, and
 * one line when Redis answers again. Only the message is logged: never a stack or a command's arguments
 * (an AUTH command's arguments hold the password).
 */
export class RedisOutageLog {
  private downSince: number | null = null;
  private lastLogAt = 0;
  private errors = 0;
  private lastMessage = '';
  private upAt = 0;

  constructor(
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
    private readonly reminderMs = 60_000,
    /** Errors that trail a recovery (other connections still reconnecting) do not open a new outage. */
    private readonly settleMs = 5_000,
  ) {}

  get down(): boolean {
    return this.downSince !== null;
  }

  error(err: unknown): void {
    const t = this.now();
    this.lastMessage = errorMessage(err);
    if (this.downSince === null) {
      if (this.upAt > 0 && t - this.upAt < this.settleMs) return;
      this.downSince = t;
      this.lastLogAt = t;
      this.errors = 1;
      this.logger.warn({ err: this.lastMessage }, 'Redis unreachable: retrying; no incident can be opened or recovered until it is back');
      return;
    }
    this.errors += 1;
    if (t - this.lastLogAt >= this.reminderMs) {
      this.lastLogAt = t;
      this.logger.warn({ err: this.lastMessage, downSeconds: Math.round((t - this.downSince) / 1000), errors: this.errors }, 'Redis still unreachable');
    }
  }

  ready(): void {
    const t = this.now();
    if (this.downSince === null) return;
    this.logger.info({ downSeconds: Math.round((t - this.downSince) / 1000), errors: this.errors }, 'Redis reachable again');
    this.downSince = null;
    this.upAt = t;
  }
}

const CONNECTION_ERROR = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EPIPE|Connection is closed|connect ETIMEDOUT|All sentinels are unreachable|Failed to connect|Stream isn't writeable|LOADING|MASTERDOWN|READONLY|NOAUTH|WRONGPASS/i;

/** Errors that mean Redis cannot be reached (or not used) right now, as opposed to a bug or a bad job. */
export function isRedisConnectionError(err: unknown): boolean {
  return CONNECTION_ERROR.test(errorMessage(err)) || CONNECTION_ERROR.test(String((err as { code?: unknown })?.code ?? ''));
}
