import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import type { Logger } from '../../shared/logger.js';
import { sleep, systemClock, type Clock } from '../../shared/time.js';
import { parseKdumpMessage } from './message.js';

// The one UDP socket that hears fence_kdump messages (message.ts). It only records who sent valid messages and
// when; what that means for a fence is the kdump device's (devices/kdump.ts) and the power wrapper's business.
// A crash kernel starts sending long before a fence asks (detection takes a minute), so the socket is bound for
// the life of the process, not per fence.

/** What the listener heard from one address. */
export interface KdumpSighting {
  readonly ip: string;
  /** The first message of this run of messages (a gap longer than the quiet time starts a new run). */
  readonly firstAt: number;
  readonly lastAt: number;
  readonly count: number;
}

export interface KdumpCounts {
  readonly valid: number;
  /** Datagrams that were not fence_kdump messages (wrong size, magic or version). */
  readonly invalid: number;
  /** Valid messages from an address no host has. */
  readonly unknownSender: number;
}

/** What the kdump device and the power wrapper read; the listener is one, a test may give another. */
export interface KdumpWatch {
  /** address:port it listens on, for messages. */
  readonly where: string;
  /** Why it cannot hear anything (its socket is not bound), or undefined when it listens. */
  notListening(): string | undefined;
  /** The latest sighting from any of the addresses, or undefined when none of them ever sent. */
  lastFrom(ips: readonly string[]): KdumpSighting | undefined;
  readonly clock: Clock;
}

export interface KdumpListenerOptions {
  readonly host: string;
  readonly port: number;
  /** A gap longer than this between two messages from one address starts a new run (the sender's interval × 3). */
  readonly quietAfterMs: number;
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** The host an address belongs to, for the log; undefined: no host has it. */
  readonly hostOf?: (ip: string) => string | undefined;
  /** Sees each datagram's verdict (the controller counts them). */
  readonly onDatagram?: (result: 'valid' | 'invalid' | 'unknown_sender') => void;
}

const LOG_EVERY_MS = 60_000;

export class KdumpListener implements KdumpWatch {
  readonly where: string;
  readonly clock: Clock;
  private socket: Socket | null = null;
  private bindError: string | undefined = 'not started';
  private readonly seen = new Map<string, KdumpSighting>();
  private readonly loggedAt = new Map<string, number>();
  private counts = { valid: 0, invalid: 0, unknownSender: 0 };

  constructor(private readonly opts: KdumpListenerOptions) {
    this.where = `${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${opts.port}`;
    this.clock = opts.clock ?? systemClock;
  }

  /** Binds the socket. A failure (port taken, address not local) is kept and said by notListening, never thrown. */
  async start(): Promise<void> {
    if (this.socket) return;
    const socket = createSocket({ type: isIP(this.opts.host) === 6 ? 'udp6' : 'udp4' });
    socket.on('message', (data, from) => this.receive(data, from.address, from.port));
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(this.opts.port, this.opts.host, () => { socket.off('error', reject); resolve(); });
      });
    } catch (err) {
      this.bindError = `cannot listen for fence_kdump messages on ${this.where}: ${(err as Error).message}`;
      this.opts.logger?.error({ listen: this.where, err: (err as Error).message }, 'kdump listener could not bind: the kdump fence device fails until it can');
      socket.close();
      return;
    }
    socket.on('error', (err) => this.opts.logger?.warn({ listen: this.where, err: err.message }, 'kdump listener socket error'));
    this.socket = socket;
    this.bindError = undefined;
    this.opts.logger?.info({ listen: this.where }, 'listening for fence_kdump messages');
  }

  /** The bound port (the configured one, or the one the system chose for port 0). */
  port(): number | undefined {
    return this.socket?.address().port;
  }

  async stop(): Promise<void> {
    const s = this.socket;
    this.socket = null;
    this.bindError = 'stopped';
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  notListening(): string | undefined {
    return this.bindError;
  }

  lastFrom(ips: readonly string[]): KdumpSighting | undefined {
    let best: KdumpSighting | undefined;
    for (const ip of ips) {
      const s = this.seen.get(normalise(ip));
      if (s && (!best || s.lastAt > best.lastAt)) best = s;
    }
    return best;
  }

  stats(): KdumpCounts {
    return { ...this.counts };
  }

  private receive(data: Buffer, address: string, port: number): void {
    const ip = normalise(address);
    const now = this.clock.now();
    const msg = parseKdumpMessage(data);
    if (!msg.ok) {
      this.counts.invalid++;
      this.opts.onDatagram?.('invalid');
      if (this.shouldLog(`bad ${ip}`, now)) {
        this.opts.logger?.warn({ listen: this.where, from: `${ip}:${port}`, reason: msg.reason }, `ignored a datagram that is not a fence_kdump message (${msg.reason}); said once a minute per sender`);
      }
      return;
    }
    const host = this.opts.hostOf?.(ip);
    if (host === undefined && this.opts.hostOf) {
      this.counts.unknownSender++;
      this.opts.onDatagram?.('unknown_sender');
      if (this.shouldLog(`unknown ${ip}`, now)) {
        this.opts.logger?.warn({ listen: this.where, from: ip }, 'fence_kdump message from an address no configured host has (mgmt_ip, storage_ips, tunnel_ip): no fence uses it; said once a minute per sender');
      }
      // Still recorded: a host added to the config later is recognised by its past messages.
    } else {
      this.counts.valid++;
      this.opts.onDatagram?.('valid');
    }
    const prev = this.seen.get(ip);
    const newRun = !prev || now - prev.lastAt > this.opts.quietAfterMs;
    this.seen.set(ip, newRun ? { ip, firstAt: now, lastAt: now, count: 1 } : { ...prev, lastAt: now, count: prev.count + 1 });
    if (newRun && host !== undefined) {
      this.opts.logger?.warn({ host, from: ip, byteOrder: msg.byteOrder }, `${host} is in its crash kernel: fence_kdump messages from ${ip}`);
    }
  }

  private shouldLog(key: string, now: number): boolean {
    const last = this.loggedAt.get(key);
    if (last !== undefined && now - last < LOG_EVERY_MS) return false;
    this.loggedAt.set(key, now);
    return true;
  }
}

/** `::ffff:198.18.0.1` from a dual-stack socket is the IPv4 address. */
function normalise(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

export interface QuietResult {
  /** The messages stopped (or never came): the dump is written, or there is none to keep. */
  readonly quiet: boolean;
  readonly waitedMs: number;
  readonly last?: KdumpSighting;
}

/**
 * Waits until none of the addresses has sent for quietMs (the crash kernel finished the dump and stopped, or
 * rebooted), at most maxMs. Returns at once when they are not sending now.
 */
export async function waitQuiet(watch: KdumpWatch, ips: readonly string[], quietMs: number, maxMs: number, pollMs: number, signal?: AbortSignal): Promise<QuietResult> {
  const start = watch.clock.now();
  for (;;) {
    const last = watch.lastFrom(ips);
    const now = watch.clock.now();
    if (!last || now - last.lastAt >= quietMs) return { quiet: true, waitedMs: now - start, ...(last ? { last } : {}) };
    if (now - start >= maxMs) return { quiet: false, waitedMs: now - start, last };
    await sleep(Math.min(pollMs, Math.max(1, maxMs - (now - start))), signal);
  }
}

/** Waits for a message from any of the addresses sent at or after `since`, at most maxMs; undefined if none came. */
export async function waitMessage(watch: KdumpWatch, ips: readonly string[], since: number, maxMs: number, pollMs: number, signal?: AbortSignal): Promise<KdumpSighting | undefined> {
  const start = watch.clock.now();
  for (;;) {
    const last = watch.lastFrom(ips);
    if (last && last.lastAt >= since) return last;
    const now = watch.clock.now();
    if (now - start >= maxMs) return undefined;
    await sleep(Math.min(pollMs, Math.max(1, maxMs - (now - start))), signal);
  }
}
