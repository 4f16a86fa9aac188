import { isIPv4 } from 'node:net';
import { z } from 'zod';
import { CmphaError } from '../../shared/errors.js';
import { runCommand, type CommandRunner } from '../../shared/run-command.js';
import { CEPH_HELPER_SCRIPT } from './helper-script.js';

/** Stable codes of the storage fence; they land in incident records, metric labels and alerts. */
export const CephCode = {
  /** librados could not connect (mon unreachable, wrong keyring, python3-rados missing). Retryable. */
  unreachable: 'ceph_unreachable',
  /** The cephx user lacks a cap (EACCES/EPERM); a config problem, not retried. */
  denied: 'ceph_denied',
  /** The helper answered something cmpha cannot read. */
  badAnswer: 'ceph_bad_answer',
  /** A blocklist command was refused for another reason. */
  commandFailed: 'ceph_command_failed',
  /** The helper did not finish in time. */
  timeout: 'ceph_timeout',
} as const;

export interface CephClientOptions {
  /** A ceph.conf to read (mon_host and the like); optional when `monHost` is given. */
  readonly conf?: string;
  readonly monHost?: string;
  /** cephx user id without `client.` (e.g. `cmpha`). */
  readonly user: string;
  /** Path of the keyring file; librados reads it, cmpha never does. */
  readonly keyringPath: string;
  readonly python: string;
  /** The whole helper run; librados' own op timeouts are set a little below it. */
  readonly timeoutMs: number;
  readonly runner?: CommandRunner;
  /** Demo and tests only: send the operations to the cloud simulator's Ceph (`POST {simUrl}/sim/ceph`) instead. */
  readonly simUrl?: string;
}

export interface Watcher {
  /** `IP:0/nonce` as librados prints it. */
  readonly address: string;
  readonly client: number;
  readonly cookie: number;
}

export type ImageWatchers =
  | { readonly image: string; readonly watchers: readonly Watcher[] }
  | { readonly image: string; readonly missing: true }
  | { readonly image: string; readonly errno: number; readonly error: string };

export interface BlocklistState {
  readonly epoch: number;
  /** `addr → until` for exact and whole-IP entries (`198.18.30.11:0/0`). */
  readonly entries: Readonly<Record<string, string>>;
  /** `cidr:198.18.30.11:0/32 → until`. */
  readonly ranges: Readonly<Record<string, string>>;
}

type Op =
  | { op: 'self' }
  | { op: 'watchers'; images: readonly string[] }
  | { op: 'list'; pool: string }
  | { op: 'blocklist'; action: 'add' | 'rm'; addr: string; range?: boolean; expire?: number }
  | { op: 'osd_dump' }
  | { op: 'refresh'; ips: readonly string[]; whole: Record<string, string>; expire: number };

const helperAnswer = z.union([
  z.object({ error: z.object({ stage: z.string(), errno: z.number(), message: z.string() }) }),
  z.object({ results: z.array(z.record(z.string(), z.unknown())) }),
]);
const watcherSchema = z.object({ address: z.string().regex(/^\S+:\d+\/\d+$/), client: z.number(), cookie: z.number() });
const watchersResult = z.object({
  images: z.array(z.union([
    z.object({ image: z.string(), watchers: z.array(watcherSchema) }),
    z.object({ image: z.string(), missing: z.literal(true) }),
    z.object({ image: z.string(), errno: z.number(), error: z.string() }),
  ])),
});
const commandResult = z.object({ ret: z.number(), status: z.string().optional() });
const refreshResult = z.object({
  ret: z.number(), status: z.string().optional(),
  commands: z.array(z.object({ action: z.string(), addr: z.string(), range: z.boolean(), ret: z.number(), status: z.string().optional() })).optional(),
});
const dumpResult = z.object({
  ret: z.literal(0), epoch: z.number(), blocklist: z.record(z.string(), z.string()), range_blocklist: z.record(z.string(), z.string()),
});
const listResult = z.union([
  z.object({ pool: z.string(), names: z.array(z.string()) }),
  z.object({ pool: z.string(), errno: z.number(), error: z.string() }),
]);

const EACCES = 13;
const ENOENT = 2;
const EPERM = 1;

/**
 * Ceph as the storage fence sees it, through python3-rados: one child process per call, however many images
 * or addresses the call covers. Only blocklist add/rm, the osdmap and watcher lists; never `blocklist clear`.
 */
export class CephClient {
  private readonly runner: CommandRunner;
  constructor(private readonly opts: CephClientOptions) {
    this.runner = opts.runner ?? runCommand;
  }

  get describe(): string {
    return `client.${this.opts.user}@${this.opts.simUrl ? 'sim' : this.opts.monHost ?? this.opts.conf ?? 'ceph'}`;
  }

  /** Runs ops over one connection; every op's answer in order. Throws CmphaError when the run itself fails. */
  async run(ops: readonly Op[], signal?: AbortSignal): Promise<Record<string, unknown>[]> {
    const seconds = Math.max(1, Math.floor(this.opts.timeoutMs / 1000) - 1);
    const request = {
      conf: this.opts.conf ?? '',
      user: this.opts.user,
      keyring: this.opts.keyringPath,
      timeout: seconds,
      options: {
        ...(this.opts.monHost ? { mon_host: this.opts.monHost } : {}),
        rados_mon_op_timeout: String(seconds), rados_osd_op_timeout: String(seconds), client_mount_timeout: String(seconds),
        log_file: '/dev/null', log_to_stderr: 'false', err_to_stderr: 'false',
      },
      ops,
    };
    if (this.opts.simUrl) return this.runSim(ops, signal);
    let res;
    try {
      res = await this.runner(this.opts.python, ['-c', CEPH_HELPER_SCRIPT], {
        timeoutMs: this.opts.timeoutMs, input: JSON.stringify(request), ...(signal ? { signal } : {}),
      });
    } catch (err) {
      if (err instanceof CmphaError && err.code === 'command_timeout') {
        throw new CmphaError(CephCode.timeout, `${this.describe}: no answer within ${this.opts.timeoutMs} ms`, { retryable: true, cause: err });
      }
      throw err;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(res.stdout);
    } catch {
      throw new CmphaError(CephCode.badAnswer, `${this.describe}: helper exited ${res.exitCode ?? res.signal} without a JSON answer: ${res.stderr.trim().slice(-300)}`, { retryable: true });
    }
    return this.answer(doc, ops.length);
  }

  private async runSim(ops: readonly Op[], signal?: AbortSignal): Promise<Record<string, unknown>[]> {
    const url = `${this.opts.simUrl!.replace(/\/+$/, '')}/sim/ceph`;
    let doc: unknown;
    try {
      const r = await fetch(url, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ops }),
        signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(this.opts.timeoutMs)]) : AbortSignal.timeout(this.opts.timeoutMs),
      });
      doc = await r.json();
    } catch (err) {
      throw new CmphaError(CephCode.unreachable, `${this.describe}: simulated Ceph at ${url} did not answer: ${(err as Error).message}`, { retryable: true });
    }
    return this.answer(doc, ops.length);
  }

  private answer(doc: unknown, count: number): Record<string, unknown>[] {
    const parsed = helperAnswer.safeParse(doc);
    if (!parsed.success) throw new CmphaError(CephCode.badAnswer, `${this.describe}: unreadable answer (${parsed.error.issues[0]?.message ?? 'shape'})`);
    if ('error' in parsed.data) {
      const e = parsed.data.error;
      const denied = e.errno === EACCES || e.errno === EPERM;
      throw new CmphaError(denied ? CephCode.denied : CephCode.unreachable, `${this.describe}: ${e.stage} failed: ${e.message}`, { retryable: !denied });
    }
    if (parsed.data.results.length !== count) throw new CmphaError(CephCode.badAnswer, `${this.describe}: ${parsed.data.results.length} answers for ${count} operations`);
    return parsed.data.results;
  }

  /** Watchers of every image (`pool/name`), one connection for all. */
  async watchers(images: readonly string[], signal?: AbortSignal): Promise<ImageWatchers[]> {
    if (images.length === 0) return [];
    const [r] = await this.run([{ op: 'watchers', images }], signal);
    return parse(watchersResult, r, this.describe, 'watchers').images;
  }

  /**
   * Image names of each pool. With `absentAsEmpty`, a pool this cluster does not have (ENOENT) lists as empty:
   * a volume named in another cluster's pool is then simply not here.
   */
  async listImages(pools: readonly string[], signal?: AbortSignal, opts: { absentAsEmpty?: readonly string[] } = {}): Promise<Map<string, readonly string[]>> {
    const out = await this.run(pools.map((pool) => ({ op: 'list' as const, pool })), signal);
    const map = new Map<string, readonly string[]>();
    for (const r of out) {
      const l = parse(listResult, r, this.describe, 'list');
      if ('error' in l && l.errno === ENOENT && opts.absentAsEmpty?.includes(l.pool)) {
        map.set(l.pool, []);
        continue;
      }
      if ('error' in l) throw new CmphaError(l.errno === EACCES || l.errno === EPERM ? CephCode.denied : CephCode.commandFailed, `${this.describe}: cannot list pool ${l.pool}: ${l.error}`);
      map.set(l.pool, l.names);
    }
    return map;
  }

  /**
   * Makes sure every address has a whole-IP entry with a fresh expiry, then reads the osdmap and the watchers of
   * `images`, over one connection per step. Re-adding a listed entry does NOT move its expiry on 16.2.15 (the
   * mon prints a new "until", the osdmap keeps the old one), so a listed address gets the other whole-IP form
   * (`IP:0/0` ↔ `range IP/32`) with the new expiry first and only then loses the old one: never a gap.
   */
  async blocklistRefresh(ips: readonly string[], expireS: number, images: readonly string[], signal?: AbortSignal): Promise<{ state: BlocklistState; watchers: ImageWatchers[] }> {
    const whole = Object.fromEntries(ips.map((ip) => [ip, wholeIpEntry(ip)]));
    const out = await this.run([{ op: 'refresh', ips, whole, expire: expireS }, { op: 'osd_dump' }, ...(images.length > 0 ? [{ op: 'watchers' as const, images }] : [])], signal);
    const refresh = parse(refreshResult, out[0], this.describe, 'blocklist refresh');
    if (refresh.ret !== 0) this.checkCommand(refresh, 'osd dump');
    for (const c of refresh.commands ?? []) this.checkCommand(c, `osd blocklist ${c.range ? 'range ' : ''}${c.action} ${c.addr}`);
    const state = this.dumpOf(out[1]);
    const watchers = images.length > 0 ? parse(watchersResult, out[2], this.describe, 'watchers').images : [];
    return { state, watchers };
  }

  /** Removes both whole-IP forms of these addresses (`blocklist rm`, `range rm`; never `clear`); returns the osdmap after. */
  async blocklistRemove(ips: readonly string[], signal?: AbortSignal): Promise<BlocklistState> {
    const ops: Op[] = ips.flatMap((ip): Op[] => [
      { op: 'blocklist', action: 'rm', addr: wholeIpEntry(ip) },
      ...(isIPv4(ip) ? [{ op: 'blocklist' as const, action: 'rm' as const, addr: `${ip}/32`, range: true }] : []),
    ]);
    const out = await this.run([...ops, { op: 'osd_dump' }], signal);
    ops.forEach((op, i) => this.checkCommand(out[i], describeOp(op)));
    return this.dumpOf(out[ops.length]);
  }

  async blocklistState(signal?: AbortSignal): Promise<BlocklistState> {
    const [r] = await this.run([{ op: 'osd_dump' }], signal);
    return this.dumpOf(r);
  }

  private checkCommand(r: unknown, what: string): void {
    const c = parse(commandResult, r, this.describe, what);
    if (c.ret === 0) return;
    const denied = c.ret === -EACCES || c.ret === -EPERM;
    throw new CmphaError(denied ? CephCode.denied : CephCode.commandFailed,
      `${this.describe}: ${what} refused (${c.ret}): ${c.status ?? ''}${denied ? ' (the cephx user needs mon \'allow command "osd blocklist"\')' : ''}`.trim(),
      { retryable: !denied });
  }

  private dumpOf(r: unknown): BlocklistState {
    const c = parse(commandResult, r, this.describe, 'osd dump');
    if (c.ret !== 0) throw new CmphaError(c.ret === -EACCES ? CephCode.denied : CephCode.commandFailed, `${this.describe}: osd dump refused (${c.ret}): ${c.status ?? ''}`);
    const d = parse(dumpResult, r, this.describe, 'osd dump');
    return { epoch: d.epoch, entries: d.blocklist, ranges: d.range_blocklist };
  }
}

function parse<T>(schema: z.ZodType<T>, value: unknown, who: string, what: string): T {
  const p = schema.safeParse(value);
  if (!p.success) {
    const i = p.error.issues[0];
    throw new CmphaError(CephCode.badAnswer, `${who}: unreadable ${what} answer (${i ? `${i.path.join('.') || 'value'}: ${i.message}` : 'shape'})`);
  }
  return p.data;
}

function describeOp(op: Op): string {
  return op.op === 'blocklist' ? `osd blocklist ${op.range ? 'range ' : ''}${op.action} ${op.addr}` : op.op;
}

/** The osdmap's key of a `range add IP/32` entry. */
export function rangeEntry(ip: string): string {
  return `cidr:${ip}:0/32`;
}

/** The entries that stop every client of `ip`, as `ceph osd dump` keys them, with their expiry. */
export function wholeIpEntriesOf(state: BlocklistState, ip: string): Record<string, string> {
  const out: Record<string, string> = {};
  const whole = state.entries[wholeIpEntry(ip)];
  if (whole !== undefined) out[wholeIpEntry(ip)] = whole;
  const range = state.ranges[rangeEntry(ip)];
  if (range !== undefined) out[rangeEntry(ip)] = range;
  return out;
}

/** `IP:0/0`: the whole-IP form that stops every client of that address, new processes included (ceph-facts). */
export function wholeIpEntry(ip: string): string {
  return ip.includes(':') ? `[${ip}]:0/0` : `${ip}:0/0`;
}

/** The IP part of a client address `IP:0/nonce` or `[v6]:0/nonce`. */
export function addressIp(address: string): string {
  const m = /^\[([^\]]+)\]:\d+\/\d+$/.exec(address) ?? /^([^:]+):\d+\/\d+$/.exec(address);
  return m ? m[1]! : address;
}
