import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { statSync } from 'node:fs';

/**
 * Child processes a test started. Each is stopped by its own pid (never by name) in `stopAll`,
 * which tests call from afterAll/afterEach so nothing outlives the test file.
 */
export class ProcessGroup {
  private readonly children = new Set<ChildProcess>();

  start(file: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
    const child = spawn(file, [...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  async stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
      this.children.delete(child);
      return;
    }
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    process.kill(child.pid, signal);
    const timer = setTimeout(() => {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
    }, graceMs);
    await exited;
    clearTimeout(timer);
    this.children.delete(child);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.children].map((c) => this.stop(c)));
  }
}

/** Resolves with the first line of stdout matching `re` (e.g. a "listening" line), or rejects on exit/timeout. */
export function waitForLine(child: ChildProcess, re: RegExp, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let err = '';
    const timer = setTimeout(() => done(new Error(`no line matching ${re} within ${timeoutMs} ms; stderr: ${err.slice(-2000)}`)), timeoutMs);
    const onData = (d: Buffer) => {
      buf += d.toString();
      for (const line of buf.split('\n')) {
        if (re.test(line)) return done(undefined, line);
      }
    };
    const onErr = (d: Buffer) => { err += d.toString(); };
    const onExit = (code: number | null) => done(new Error(`process exited (${code}) before printing ${re}; stderr: ${err.slice(-2000)}`));
    function done(e?: Error, line?: string) {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onErr);
      child.off('exit', onExit);
      if (e) reject(e); else resolve(line!);
    }
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onErr);
    child.once('exit', onExit);
  });
}

export function commandExists(cmd: string): boolean {
  const paths = (process.env.PATH ?? '').split(':');
  return paths.some((p) => {
    try { return statSync(`${p}/${cmd}`).isFile(); } catch { return false; }
  });
}
