import { setMaxListeners } from 'node:events';
import type { DetectorConfig } from '../config/types.js';
import { isIpLiteral } from '../config/fields.js';
import { CmphaError, errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { mapLimit } from '../shared/map-limit.js';
import { runCommand, type CommandRunner } from '../shared/run-command.js';
import { parseFpingOutput } from './fping-output.js';
import type { Prober, ProbeResult } from './types.js';

type FpingOptions = Pick<DetectorConfig, 'fpingPath' | 'probeTimeoutMs' | 'probePacketIntervalMs' | 'probeCount'>;

/** Refuses anything but IP literals: a host name would make fping ask DNS, off this machine. */
export function assertIpLiterals(ips: readonly string[]): void {
  const bad = ips.filter((ip) => !isIpLiteral(ip));
  if (bad.length > 0) {
    throw new CmphaError('invalid_probe_target', `refusing to probe ${bad.map((b) => JSON.stringify(b)).join(', ')}: not an IP literal`, {
      context: { targets: bad },
    });
  }
}

/**
 * What to do when fping may not open a raw ICMP socket, said the same way by `cmpha run` and `cmpha doctor`.
 * Podman's default capabilities leave CAP_NET_RAW out, so under `podman run` every probe fails until it is added.
 */
export const NET_RAW_FIX = 'fping lacks CAP_NET_RAW, so no host can be probed (and none proven dead). '
  + 'In a container, run it with --cap-add NET_RAW (Podman leaves NET_RAW out of its default capabilities; Docker keeps it unless --cap-drop removes it); '
  + 'under systemd keep AmbientCapabilities=CAP_NET_RAW and CapabilityBoundingSet=CAP_NET_RAW in the unit';

/**
 * The shapes of "not allowed to send ICMP": exec refused (EPERM: fping's file capability exceeds the bounding
 * set), a wrapper shell's 126 for the same, or fping's own exit 4 when the socket call is refused.
 */
function permissionFailure(exitCode: number | null, stderr: string): string | null {
  if (exitCode === 126) return 'exit 126: the kernel refused to run it with its capability';
  if (/operation not permitted|permission denied|can't create socket|must run as root/i.test(stderr)) return stderr.trim().split('\n')[0]!;
  if (exitCode === 4 && stderr.trim() === '') return 'exit 4 with no message: the raw socket was refused';
  return null;
}

/**
 * Gap between the pings to one address (fping -p). fping's default of 1 s would make every probe of a silent
 * address last a second per extra ping; silence is confirmed by time across probes now, so a short spread is enough.
 */
export const PING_PERIOD_MS = 250;

/**
 * Targets per fping process. fping sends to one target at a time, `-i` apart (at least 1 ms unless root), so one
 * process for 5,000 addresses needs 5 s per ping; a few processes side by side, each with its own socket, do the
 * same in a fraction of it.
 */
export const FPING_CHUNK = 250;
const FPING_PARALLEL = 20;

/** fping processes of at most FPING_CHUNK targets each, run side by side: `fping -c N [-p P] -t T -i I -q IP...`. */
export function createFpingProber(opts: FpingOptions, deps: { logger: Logger; run?: CommandRunner }): Prober {
  const run = deps.run ?? runCommand;
  const gap = Math.max(1, opts.probePacketIntervalMs);

  async function fping(targets: readonly string[], signal?: AbortSignal): Promise<Map<string, ProbeResult>> {
    const args = [
      '-c', String(opts.probeCount),
      ...(opts.probeCount > 1 ? ['-p', String(PING_PERIOD_MS)] : []),
      '-t', String(opts.probeTimeoutMs),
      '-i', String(gap),
      '-q',
      ...targets,
    ];
    // With -c fping paces packets to one target PING_PERIOD_MS apart; allow for that plus margin.
    const budget = opts.probeCount * (PING_PERIOD_MS + opts.probeTimeoutMs) + targets.length * gap * opts.probeCount + 5000;
    let result;
    try {
      result = await run(opts.fpingPath, args, { timeoutMs: budget, signal });
    } catch (err) {
      const sys = (err as { cause?: { code?: string } }).cause?.code;
      if (sys === 'EPERM' || sys === 'EACCES') {
        throw new CmphaError('probe_not_permitted', `${NET_RAW_FIX} (running ${opts.fpingPath}: ${sys}).`, { cause: err });
      }
      throw new CmphaError('probe_failed', `fping failed: ${errorMessage(err)}`, { retryable: true, cause: err });
    }
    const denied = result.exitCode === 0 || result.exitCode === 1 ? null : permissionFailure(result.exitCode, result.stderr);
    if (denied) throw new CmphaError('probe_not_permitted', `${NET_RAW_FIX} (${opts.fpingPath}: ${denied}).`, { context: { exitCode: result.exitCode } });
    if (result.exitCode !== 0 && result.exitCode !== 1) {
      const first = result.stderr.split('\n').find((l) => l.trim().length > 0) ?? '';
      throw new CmphaError('probe_failed',
        `fping exited with ${result.exitCode ?? `signal ${result.signal}`}${first ? `: ${first.trim()}` : ''}`,
        { retryable: true, context: { exitCode: result.exitCode } });
    }
    return parseFpingOutput(result.stderr, targets);
  }

  return {
    kind: 'fping',
    async probe(ips, signal) {
      const targets = [...new Set(ips)];
      if (targets.length === 0) return new Map();
      assertIpLiterals(targets);
      const chunks: string[][] = [];
      for (let i = 0; i < targets.length; i += FPING_CHUNK) chunks.push(targets.slice(i, i + FPING_CHUNK));
      // One failed process fails the whole probe: silence from the others would be read as evidence.
      const ac = new AbortController();
      // Every fping process running at once listens on it; Node would warn of a leak past 10.
      setMaxListeners(FPING_PARALLEL + 1, ac.signal);
      const onAbort = () => ac.abort(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      let parts: Map<string, ProbeResult>[];
      try {
        parts = await mapLimit(chunks, FPING_PARALLEL, async (c) => {
          try {
            return await fping(c, ac.signal);
          } catch (err) {
            ac.abort(err);
            throw err;
          }
        });
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
      const parsed = new Map<string, ProbeResult>();
      for (const p of parts) for (const [ip, r] of p) parsed.set(ip, r);
      const unknown = [...parsed].filter(([, r]) => r === 'unknown').map(([ip]) => ip);
      if (unknown.length > 0) deps.logger.warn({ unknown: unknown.slice(0, 20), count: unknown.length }, 'fping printed no result for some addresses');
      return parsed;
    },
  };
}

/**
 * Pings 127.0.0.1 once, so a missing CAP_NET_RAW is named at start instead of surfacing as every host silent.
 * Returns the error (code probe_not_permitted names the fix), or null when fping works.
 */
export async function checkFpingPermission(prober: Prober, signal?: AbortSignal): Promise<CmphaError | null> {
  try {
    await prober.probe(['127.0.0.1'], signal);
    return null;
  } catch (err) {
    return err instanceof CmphaError ? err : new CmphaError('probe_failed', errorMessage(err));
  }
}
