import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { sleep } from '../shared/time.js';
import type { AckStore } from './ack.js';
import type { DeliveryRecord, NotificationEvent } from './types.js';

export interface EscalatorOptions {
  readonly repeatEveryMs: number;
  readonly maxRepeats: number;
  readonly acks: AckStore;
  /** Sends repeat `n` of `of` to the on-call channels. */
  readonly send: (event: NotificationEvent, ackId: string, repeat: { n: number; of: number }) => Promise<readonly DeliveryRecord[]>;
  readonly onDelivery?: (records: readonly DeliveryRecord[], event: NotificationEvent) => void;
  readonly logger: Logger;
}

interface Running {
  readonly ackId: string;
  readonly abort: AbortController;
  readonly done: Promise<void>;
}

/**
 * Repeats critical pages until someone acknowledges or `maxRepeats` is reached. Each escalation is a bounded
 * loop (at most maxRepeats sleeps and sends), so it ends by itself; `stop` ends them all at once.
 */
export class Escalator {
  private readonly running = new Map<string, Running>();
  constructor(private readonly o: EscalatorOptions) {}

  /** Starts repeating `event` under `key` unless an escalation with that key is already running. */
  start(key: string, ackId: string, event: NotificationEvent): boolean {
    if (this.o.maxRepeats <= 0 || this.running.has(key)) return false;
    const abort = new AbortController();
    const done = this.loop(ackId, event, abort.signal).finally(() => this.running.delete(key));
    this.running.set(key, { ackId, abort, done });
    return true;
  }

  /** Ends at once every escalation waiting on `ackId` (the next tick would find the ack anyway). */
  acknowledged(ackId: string): void {
    for (const r of this.running.values()) if (r.ackId === ackId) r.abort.abort(new Error('acknowledged'));
  }

  active(): string[] {
    return [...this.running.keys()];
  }

  /** Resolves when no escalation is running. */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running.values()].map((r) => r.done));
  }

  async stop(): Promise<void> {
    for (const r of this.running.values()) r.abort.abort(new Error('notifier stopped'));
    await this.settled();
  }

  private async loop(ackId: string, event: NotificationEvent, signal: AbortSignal): Promise<void> {
    const log = this.o.logger.child({ escalation: ackId, notification: event.type });
    for (let n = 1; n <= this.o.maxRepeats; n++) {
      try {
        await sleep(this.o.repeatEveryMs, signal);
      } catch {
        log.info({ reason: errorMessage(signal.reason) }, 'escalation ended');
        return;
      }
      let ack = null;
      try {
        ack = await this.o.acks.get(ackId);
      } catch (err) {
        // Cannot tell whether anyone answered: keep paging rather than go quiet.
        log.warn({ err: errorMessage(err) }, 'cannot read acknowledgement; repeating the page');
      }
      if (ack) {
        log.info({ by: ack.by }, 'escalation acknowledged');
        return;
      }
      if (signal.aborted) return;
      const records = await this.o.send(event, ackId, { n, of: this.o.maxRepeats });
      this.o.onDelivery?.(records, event);
    }
    log.warn({ repeats: this.o.maxRepeats }, 'escalation ended unacknowledged after the last repeat');
  }
}
