import { spawn, type ChildProcess } from 'node:child_process';
import { CmphaError } from './errors.js';

export interface CommandResult {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
}

export interface RunOptions {
  /** Extra environment for the child (merged over a minimal PATH/LANG). Secrets go here, never in argv. */
  readonly env?: Record<string, string>;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  readonly maxOutputBytes?: number;
  /** Written to the child's stdin, then closed (a request that must not be in argv). Without it stdin is closed. */
  readonly input?: string;
  /**
   * Run the child in its own process group and kill the whole group on timeout or abort: for operator
   * commands that may fork (a wrapper script), whose grandchildren would otherwise hold the output open.
   */
  readonly killGroup?: boolean;
}

/** Runs a child process without a shell and collects its output. */
export type CommandRunner = (file: string, args: readonly string[], opts: RunOptions) => Promise<CommandResult>;

/**
 * The one place cmpha starts child processes (fping, ipmitool). No shell is involved, so arguments are
 * never interpreted; the child gets a minimal environment so nothing of ours leaks into it by accident.
 */
export const runCommand: CommandRunner = (file, args, opts) =>
  new Promise((resolve, reject) => {
    const started = Date.now();
    const limit = opts.maxOutputBytes ?? 4 * 1024 * 1024;
    let child: ChildProcess;
    try {
      child = spawn(file, [...args], {
        shell: false,
        detached: opts.killGroup === true,
        stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
        env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C', LC_ALL: 'C', ...(opts.env ?? {}) },
      });
    } catch (err) {
      // spawn throws at once for some exec failures (EPERM when a file capability exceeds the bounding set).
      const e = err as NodeJS.ErrnoException;
      reject(new CmphaError('command_failed', `cannot run ${file}: ${e.code ?? e.message}`, { cause: err, context: { file } }));
      return;
    }
    let stdout = '';
    let stderr = '';
    if (opts.input !== undefined && child.stdin) {
      // A child that exits before reading everything closes the pipe; its exit status tells the story.
      child.stdin.on('error', () => {});
      child.stdin.end(opts.input);
    }
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { if (stdout.length < limit) stdout += d; });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { if (stderr.length < limit) stderr += d; });
    let killedFor: string | undefined;
    const kill = (why: string) => {
      if (child.exitCode === null && child.signalCode === null) {
        killedFor = why;
        if (opts.killGroup && child.pid !== undefined) {
          try {
            process.kill(-child.pid, 'SIGKILL');
          } catch {
            child.kill('SIGKILL');
          }
        } else child.kill('SIGKILL');
      }
    };
    const timer = setTimeout(() => kill(`timed out after ${opts.timeoutMs} ms`), opts.timeoutMs);
    const onAbort = () => kill('aborted');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      reject(new CmphaError(err.code === 'ENOENT' ? 'command_not_found' : 'command_failed',
        `cannot run ${file}: ${err.code === 'ENOENT' ? 'not installed or not on PATH' : err.message}`,
        { cause: err, context: { file } }));
    });
    child.on('close', (exitCode, signal) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (killedFor) {
        reject(new CmphaError(killedFor === 'aborted' ? 'command_aborted' : 'command_timeout',
          `${file} ${killedFor}`, { retryable: killedFor !== 'aborted', context: { file } }));
        return;
      }
      resolve({ exitCode, signal, stdout, stderr, durationMs: Date.now() - started });
    });
  });
