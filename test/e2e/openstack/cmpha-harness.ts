// Runs the real `cmpha run` daemon against the lab: its own redis-server, a webhook receiver standing in for
// the pager, and the lab's cmpha.conf with those two filled in. Everything it starts is stopped by pid in stop().
import { createWriteStream, existsSync, readFileSync, writeFileSync, type WriteStream } from 'node:fs';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { Redis } from 'ioredis';
import { IncidentStore } from '../../../src/incidents/incident-store.js';
import type { Incident } from '../../../src/incidents/types.js';
import { freePort } from '../../helpers/ports.js';
import { ProcessGroup } from '../../helpers/processes.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';
import { LAB_SRC, run, type LabInfo } from './lab.js';

export const REPO = path.resolve(LAB_SRC, '../../..');
const PREFIX = 'cmpha';

export interface Alert {
  readonly receivedAt: number;
  readonly event: string;
  readonly host: string;
  readonly severity: string;
  readonly title: string;
  readonly text: string;
}

/** Where the base cmpha.conf is, and the lab directory whose state/ receives logs and configs. */
export type CmphaBase = Pick<LabInfo, 'dir' | 'cmphaConf'>;

export interface CmphaOptions {
  /** Name for the log file under $CMPHA_LAB_DIR/state. */
  readonly name: string;
  /** Replaces [cloud] auth_url (a fault-injecting proxy in front of Keystone). */
  readonly authUrl?: string;
  /** Settings changed from the lab's cmpha.conf: { 'detector.heartbeat_timeout': '15s' }. */
  readonly settings?: Readonly<Record<string, string>>;
  /** The pager's `events` (default `*`, which leaves out opt-in events such as host-suspected). */
  readonly events?: string;
}

/** Sets `key = value` in `[section]` of an INI text, replacing the key if the section has it. */
export function setIni(text: string, section: string, key: string, value: string): string {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === `[${section}]`);
  if (start < 0) return `${text}\n[${section}]\n${key} = ${value}\n`;
  let end = lines.findIndex((l, i) => i > start && /^\[/.test(l.trim()));
  if (end < 0) end = lines.length;
  const at = lines.findIndex((l, i) => i > start && i < end && new RegExp(`^${key}\\s*=`).test(l.trim()));
  if (at >= 0) lines[at] = `${key} = ${value}`;
  else lines.splice(start + 1, 0, `${key} = ${value}`);
  return lines.join('\n');
}

export class CmphaHarness {
  readonly alerts: Alert[] = [];
  readonly logFile: string;
  private readonly group = new ProcessGroup();
  private redis?: RedisServer;
  private hook?: Server;
  private client?: Redis;
  private log?: WriteStream;
  private hookPort = 0;
  private metricsPort = 0;
  private logStart = 0;
  configPath = '';

  private constructor(private readonly lab: CmphaBase, private opts: CmphaOptions) {
    this.logFile = path.join(lab.dir, 'state', `cmpha-${opts.name}.log`);
  }

  static async start(lab: CmphaBase, opts: CmphaOptions): Promise<CmphaHarness> {
    if (!existsSync(path.join(REPO, 'dist/cli/main.js'))) throw new Error('dist/ is missing: run `npm run build` first (run.sh does)');
    const h = new CmphaHarness(lab, opts);
    try {
      await h.startAll();
    } catch (err) {
      await h.stop();
      throw err;
    }
    return h;
  }

  /**
   * Stops `cmpha run` and starts it again with `settings` changed (say, a BMC password fixed), as an operator
   * restarts the controller after editing its config: the same Redis, so it sees every incident recorded so far.
   */
  async restart(settings: Readonly<Record<string, string>>): Promise<void> {
    await this.group.stopAll();
    this.log?.end();
    this.opts = { ...this.opts, settings: { ...(this.opts.settings ?? {}), ...settings } };
    await this.startDaemon();
  }

  private async startAll(): Promise<void> {
    this.redis = await startRedis();
    this.client = new Redis(this.redis.url, { maxRetriesPerRequest: 2 });
    const hookPort = await freePort();
    this.hook = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => { body += d.toString(); });
      req.on('end', () => {
        try {
          const m = JSON.parse(body) as Record<string, string>;
          this.alerts.push({ receivedAt: Date.now(), event: m.event ?? '', host: m.host ?? '', severity: m.severity ?? '', title: m.title ?? '', text: m.text ?? '' });
        } catch { /* a malformed delivery shows up as a missing alert */ }
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => this.hook!.listen(hookPort, '127.0.0.1', resolve));
    this.hookPort = hookPort;
    await this.startDaemon();
  }

  private async startDaemon(): Promise<void> {
    const hookPort = this.hookPort;
    let conf = setIni(readFileSync(this.lab.cmphaConf, 'utf8'), 'redis', 'url', this.redis!.url);
    if (this.opts.authUrl) conf = setIni(conf, 'cloud', 'auth_url', this.opts.authUrl);
    for (const [k, v] of Object.entries(this.opts.settings ?? {})) {
      const [section, key] = k.split('.') as [string, string];
      conf = setIni(conf, section, key, v);
    }
    // /metrics on a port of its own: rounds() waits on the detector's round counter instead of a fixed sleep.
    this.metricsPort ||= await freePort();
    conf = setIni(setIni(conf, 'metrics', 'enabled', 'true'), 'metrics', 'listen', `127.0.0.1:${this.metricsPort}`);
    conf += `\n[notifier:pager]\ntype = webhook\npreset = generic-json\nurl = http://127.0.0.1:${hookPort}/alert\nevents = ${this.opts.events ?? '*'}\n`;
    this.configPath = path.join(this.lab.dir, 'state', `cmpha-${this.opts.name}.conf`);
    writeFileSync(this.configPath, conf, { mode: 0o600 });

    // A restart appends to the same log; waitForLog then looks only past what was there.
    if (!existsSync(this.logFile) || !this.log) writeFileSync(this.logFile, '');
    this.logStart = readFileSync(this.logFile, 'utf8').length;
    this.log = createWriteStream(this.logFile, { flags: 'a' });
    const child = this.group.start(process.execPath, [path.join(REPO, 'bin/cmpha.js'), 'run', '--config', this.configPath], { cwd: REPO, env: { ...process.env, CMPHA_CONFIG: '' } });
    child.stdout?.pipe(this.log, { end: false });
    child.stderr?.pipe(this.log, { end: false });
    const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`cmpha run exited (${code}) before it was ready; log: ${this.logFile}\n${this.tail()}`))));
    exited.catch(() => undefined);
    await Promise.race([exited, this.waitForLog(/cmpha controller started/, 60_000)]);
  }

  tail(lines = 40): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  async waitForLog(re: RegExp, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = readFileSync(this.logFile, 'utf8').slice(this.logStart).split('\n').find((l) => re.test(l));
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`cmpha logged nothing matching ${re} within ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async waitForAlert(event: string, host: string, timeoutMs: number): Promise<Alert> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const a = this.alerts.find((x) => x.event === event && x.host === host);
      if (a) return a;
      if (Date.now() > deadline) {
        throw new Error(`no ${event} alert for ${host} within ${timeoutMs / 1000} s; alerts: ${JSON.stringify(this.alerts.map((x) => `${x.event}:${x.host}`))}\n${this.tail()}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Every incident cmpha recorded, newest first, with timeline and instances. */
  /** The detector's completed rounds, from cmpha's own /metrics. */
  async roundCount(): Promise<number> {
    const res = await fetch(`http://127.0.0.1:${this.metricsPort}/metrics`);
    const m = /^cmpha_detector_rounds_total(?:\{[^}]*\})? (\d+)/m.exec(await res.text());
    if (!m) throw new Error('cmpha_detector_rounds_total missing from /metrics');
    return Number(m[1]);
  }

  /** Resolves once the detector has completed `n` more rounds (say, to show that nothing happened in them). */
  async rounds(n: number, timeoutMs = 120_000): Promise<void> {
    const from = await this.roundCount();
    const deadline = Date.now() + timeoutMs;
    while ((await this.roundCount()) < from + n) {
      if (Date.now() > deadline) throw new Error(`the detector did not complete ${n} rounds in ${timeoutMs / 1000} s; log: ${this.logFile}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /**
   * Resolves once cmpha has had the chance to learn each host's heartbeat: every one of `hosts` has written two
   * heartbeats since now (as Nova reports them), and the detector has looked twice after that.
   */
  async learnHeartbeats(nova: { service(host: string): Promise<{ updated_at: string | null }> }, hosts: readonly string[]): Promise<void> {
    const deadline = Date.now() + 90_000;
    for (const host of hosts) {
      const seen = new Set([(await nova.service(host)).updated_at]);
      while (seen.size < 3) {
        if (Date.now() > deadline) throw new Error(`${host} wrote fewer than two heartbeats in 90 s`);
        await new Promise((r) => setTimeout(r, 1000));
        seen.add((await nova.service(host)).updated_at);
      }
    }
    await this.rounds(2);
  }

  async incidents(): Promise<Incident[]> {
    const store = new IncidentStore(this.client!, PREFIX);
    const out: Incident[] = [];
    for (const r of await store.list()) {
      const full = await store.get(r.id);
      if (full) out.push(full);
    }
    return out;
  }

  /** `cmpha incidents show ID --json`, as an operator reads it (the same config, so the same Redis). */
  async show(id: string): Promise<Record<string, unknown>> {
    const r = await run(process.execPath, [path.join(REPO, 'bin/cmpha.js'), 'incidents', 'show', id, '--json', '--config', this.configPath], { env: { ...process.env, CMPHA_CONFIG: '' } });
    if (r.code !== 0) throw new Error(`cmpha incidents show ${id} failed (${r.code}): ${r.stderr}`);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  }

  async stop(): Promise<void> {
    await this.group.stopAll();
    this.client?.disconnect();
    await this.redis?.stop();
    if (this.hook) await new Promise<void>((resolve) => this.hook!.close(() => resolve()));
    this.log?.end();
  }
}
