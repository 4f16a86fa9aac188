import { namesOf, type HeartbeatSource } from '../compute/types.js';
import { CmphaError, errorMessage } from '../shared/errors.js';
import type { CommandRunner } from '../shared/run-command.js';
import type { Clock } from '../shared/time.js';
import { renderCommand } from '../shared/command-template.js';

/** How one host's nova-compute is restarted: the parsed template and its bounds. */
export interface AgentRemediation {
  /** argv with {host} / {mgmt_ip} placeholders (src/remediation/command-template.ts). */
  readonly command: readonly string[];
  /** Per run: the command is killed after this long. */
  readonly timeoutMs: number;
  readonly tries: number;
  /** Pause between two tries. */
  readonly retryDelayMs: number;
  /** After a run, how long Nova's heartbeat (`updated_at`) has to advance. */
  readonly heartbeatWaitMs: number;
}

export interface HealTry {
  readonly argv: readonly string[];
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** The end of stdout and stderr (at most 2,000 characters each). */
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
  readonly error?: string;
}

export interface HealResult {
  readonly ok: boolean;
  readonly host: string;
  readonly tries: readonly HealTry[];
  /** One sentence: what came of it. */
  readonly reason: string;
}

export interface HealDeps {
  /** Where the host's agent heartbeat is read. */
  readonly heartbeats: HeartbeatSource;
  readonly run: CommandRunner;
  readonly clock: Clock;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly signal?: AbortSignal;
  /** Heartbeat polling interval (default 1 s). */
  readonly pollMs?: number;
}

const tail = (s: string) => (s.length > 2000 ? `…${s.slice(-2000)}` : s);

async function heartbeat(deps: HealDeps, host: string): Promise<{ at: number | null; up: boolean }> {
  const h = (await deps.heartbeats.hosts({ name: host, signal: deps.signal }))[0];
  return { at: h?.heartbeatAt?.getTime() ?? null, up: h?.state === 'up' };
}

/**
 * Restarts a host's nova-compute with the operator's command, at most `tries` times, each run bounded, and
 * counts it healed only when Nova's heartbeat advances past where it stood and the service reads up. It
 * never fences and never evacuates; a failure is for the caller to page with the output kept here.
 */
export async function healAgent(deps: HealDeps, host: string, mgmtIp: string | null, r: AgentRemediation): Promise<HealResult> {
  let argv: string[];
  try {
    argv = renderCommand(r.command, { host, mgmt_ip: mgmtIp });
  } catch (err) {
    return { ok: false, host, tries: [], reason: `remediation not run: ${errorMessage(err)}` };
  }
  const before = await heartbeat(deps, host);
  const tries: HealTry[] = [];
  for (let n = 1; n <= r.tries; n++) {
    const started = deps.clock.now();
    try {
      const res = await deps.run(argv[0]!, argv.slice(1), { timeoutMs: r.timeoutMs, signal: deps.signal, maxOutputBytes: 64 * 1024, killGroup: true });
      tries.push({ argv, exitCode: res.exitCode, signal: res.signal, stdout: tail(res.stdout), stderr: tail(res.stderr), durationMs: res.durationMs });
    } catch (err) {
      if (deps.signal?.aborted) throw err;
      const timedOut = err instanceof CmphaError && err.code === 'command_timeout';
      tries.push({ argv, exitCode: null, signal: null, stdout: '', stderr: '', durationMs: deps.clock.now() - started,
        error: timedOut ? `killed after ${r.timeoutMs} ms` : errorMessage(err) });
    }
    const deadline = deps.clock.now() + r.heartbeatWaitMs;
    for (;;) {
      const now = await heartbeat(deps, host).catch(() => ({ at: null, up: false }));
      if (now.up && now.at !== null && (before.at === null || now.at > before.at)) {
        return { ok: true, host, tries, reason: `${namesOf(deps.heartbeats).agent} on ${host} reports again (heartbeat ${new Date(now.at).toISOString()}) after ${n} run(s) of the remediation command` };
      }
      if (deps.clock.now() >= deadline) break;
      await deps.sleep(deps.pollMs ?? 1000, deps.signal);
    }
    if (n < r.tries) await deps.sleep(r.retryDelayMs, deps.signal);
  }
  const last = tries[tries.length - 1];
  const how = last?.error ?? (last ? `exit ${last.exitCode ?? `signal ${last.signal}`}` : 'not run');
  return { ok: false, host, tries, reason: `${namesOf(deps.heartbeats).agent} on ${host} did not report again after ${tries.length} run(s) of the remediation command (last: ${how})` };
}

/** The alert text: the verdict, then each run's command and output, so the page carries what was tried. */
export function describeHeal(result: HealResult): string {
  const lines = [result.reason];
  result.tries.forEach((t, i) => {
    lines.push(`run ${i + 1}: ${t.argv.join(' ')} → ${t.error ?? `exit ${t.exitCode ?? `signal ${t.signal}`}`} in ${t.durationMs} ms`);
    if (t.stdout.trim()) lines.push(`  stdout: ${t.stdout.trim()}`);
    if (t.stderr.trim()) lines.push(`  stderr: ${t.stderr.trim()}`);
  });
  return lines.join('\n');
}
