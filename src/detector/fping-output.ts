import type { ProbeResult } from './types.js';

// fping -q writes one summary line per target to stderr:
//   198.18.0.11 : xmt/rcv/%loss = 1/1/0%, min/avg/max = 0.060/0.060/0.060
//   198.18.0.12 : xmt/rcv/%loss = 1/0/100%
// and, when the kernel refuses to send, `198.18.9.9: error while sending ping: No route to host`.
const SUMMARY = /^(\S+?)\s*:\s*xmt\/rcv\/%loss\s*=\s*(\d+)\/(\d+)\//;
const SEND_ERROR = /^(\S+?)\s*:\s*error while sending ping:/;

/**
 * Reads fping's stderr into a verdict per requested address. An answer in any summary line (duplicates
 * included) is `alive`; summaries without replies and send errors are `silent`; a requested address fping
 * said nothing about is `unknown`. Lines about addresses nobody asked for, duplicate-reply notices and
 * anything unrecognised are ignored, so a stray line can never make an address look alive.
 */
export function parseFpingOutput(stderr: string, requested: readonly string[]): Map<string, ProbeResult> {
  const wanted = new Set(requested);
  const received = new Map<string, boolean>();
  for (const raw of stderr.split('\n')) {
    const line = raw.trim();
    const summary = SUMMARY.exec(line);
    if (summary) {
      const ip = summary[1]!;
      if (!wanted.has(ip)) continue;
      received.set(ip, (received.get(ip) ?? false) || Number(summary[3]) > 0);
      continue;
    }
    const failed = SEND_ERROR.exec(line);
    if (failed && wanted.has(failed[1]!) && !received.has(failed[1]!)) received.set(failed[1]!, false);
  }
  const out = new Map<string, ProbeResult>();
  for (const ip of requested) {
    const r = received.get(ip);
    out.set(ip, r === undefined ? 'unknown' : r ? 'alive' : 'silent');
  }
  return out;
}
