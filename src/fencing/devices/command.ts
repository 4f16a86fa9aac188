import { z } from 'zod';
import { key } from '../../config/declare.js';
import { bool, commandTemplate, duration, text } from '../../config/fields.js';
import type { Secret } from '../../config/secret.js';
import { renderCommand } from '../../shared/command-template.js';
import { CmphaError } from '../../shared/errors.js';
import { runCommand, type CommandResult, type CommandRunner } from '../../shared/run-command.js';
import { FenceCode } from '../codes.js';
import type { PowerDeviceType } from '../device.js';
import type { FenceDriver, PowerReading, PowerState } from '../types.js';
import { hostPort } from './bmc-settings.js';

// An operator's own power switch: a PDU's CLI, Metal3's or a vendor's tool. cmpha runs the commands as argv
// (no shell), gives them the credentials only through the environment (or stdin), bounds every run, and counts
// the host off only when the status command reads it off: the off command's exit status proves nothing.

/** `{host}`, and the device's `address` and `port` from the host's section; credentials are never placeholders. */
const PLACEHOLDERS = ['host', 'address', 'port'] as const;

/** How the status command says a state: its stdout matches a regular expression, or it exits with a status. */
export type AnswerRule = { readonly exit: number } | { readonly pattern: RegExp };

/** `exit=N`, or a regular expression (case-insensitive) the status command's stdout must match. */
export function parseAnswerRule(spec: string): AnswerRule | { error: string } {
  const exit = /^exit\s*=\s*(\d{1,3})$/.exec(spec.trim());
  if (exit) {
    const n = Number(exit[1]);
    return n <= 255 ? { exit: n } : { error: `exit status ${n} is not in 0..255` };
  }
  try {
    return { pattern: new RegExp(spec, 'i') };
  } catch (err) {
    return { error: `not a regular expression: ${(err as Error).message}` };
  }
}

function answerRule(defaultSpec: string) {
  return text(defaultSpec).transform((t, ctx) => {
    const r = parseAnswerRule(t);
    if ('error' in r) {
      ctx.addIssue({ code: 'custom', message: r.error });
      return z.NEVER;
    }
    return r;
  });
}

const commandKeys = {
  off: key('off_command', commandTemplate(PLACEHOLDERS),
    'driver = command: the argv that powers the host off (no shell; placeholders {host}, {address}, {port}). It gets the credentials in its environment: CMPHA_FENCE_USERNAME, CMPHA_FENCE_PASSWORD (and CMPHA_HOST, CMPHA_FENCE_ADDRESS, CMPHA_FENCE_PORT), never in argv. Its exit status 0 means "accepted"; only status_command reading off proves the fence. E.g. /usr/local/bin/pdu-outlet --pdu {address} --outlet-of {host} off'),
  status: key('status_command', commandTemplate(PLACEHOLDERS),
    'driver = command: the argv that reads the host\'s power; its answer is judged by off_answer and on_answer (neither, or both: unknown, never off). E.g. /usr/local/bin/pdu-outlet --pdu {address} --outlet-of {host} status'),
  on: key('on_command', commandTemplate(PLACEHOLDERS), 'driver = command: the argv that powers the host on (`cmpha host restore --power-on`); unset: cmpha cannot power it on.'),
  offAnswer: key('off_answer', answerRule('\\boff\\b'),
    'driver = command: when status_command reads the host off: a regular expression its stdout matches (case-insensitive), or exit=N for its exit status. With a pattern, any exit status but 0 is a failed read.', { default: '\\boff\\b' }),
  onAnswer: key('on_answer', answerRule('\\bon\\b'), 'driver = command: when status_command reads the host on; the same forms as off_answer.', { default: '\\bon\\b' }),
  timeout: key('command_timeout', duration('10s', { min: '100ms' }), 'driver = command: each run of a command is killed (with its process group) after this long.'),
  passwordStdin: key('password_stdin', bool(false), 'driver = command: also write the password, one line, to each command\'s stdin (for tools that will not read it from the environment).'),
} as const;

export interface CommandSettings {
  readonly off: readonly string[];
  readonly status: readonly string[];
  readonly on?: readonly string[];
  readonly offAnswer: AnswerRule;
  readonly onAnswer: AnswerRule;
  readonly timeoutMs: number;
  readonly passwordStdin: boolean;
  readonly address?: string;
  readonly port?: number;
  readonly username?: string;
  readonly password?: Secret;
}

/** An operator's command as a host's power device (`driver = command`). */
export const commandDevice: PowerDeviceType<'command', typeof commandKeys, CommandSettings> = {
  name: 'command',
  role: 'power',
  summary: 'an operator\'s commands, off_command and status_command (a PDU\'s CLI, Metal3, a vendor tool)',
  keys: commandKeys,
  settings(host, own, report) {
    let ok = true;
    if (!own.off) { report('off_command', 'is required for driver command'); ok = false; }
    if (!own.status) { report('status_command', 'is required for driver command: only a status read back off proves the fence'); ok = false; }
    if (!ok) return undefined;
    return {
      off: own.off!, status: own.status!, ...(own.on ? { on: own.on } : {}),
      offAnswer: own.offAnswer, onAnswer: own.onAnswer, timeoutMs: own.timeout, passwordStdin: own.passwordStdin,
      ...(host.address !== undefined ? { address: host.address } : {}),
      ...(host.port !== undefined ? { port: host.port } : {}),
      ...(host.username !== undefined ? { username: host.username } : {}),
      ...(host.password !== undefined ? { password: host.password } : {}),
    };
  },
  where: (s) => (s.address ? (s.port ? hostPort(s.address, s.port) : s.address) : undefined),
  shown: (s) => ({
    off_command: s.off.join(' '), status_command: s.status.join(' '), on_command: s.on?.join(' '),
    address: s.address, port: s.port === undefined ? undefined : String(s.port), username: s.username, password: s.password,
  }),
  switch: (s, env) => new CommandSwitch(env.host, s, env.runner ?? runCommand),
};

/** Runs the configured commands; see the comment at the top of this file. */
export class CommandSwitch implements FenceDriver {
  readonly kind = 'command';
  readonly target: string;

  constructor(private readonly host: string, private readonly s: CommandSettings, private readonly runner: CommandRunner) {
    this.target = `command:${s.off[0]}${s.address ? ` ${s.address}` : ''}`;
  }

  async powerStatus(signal: AbortSignal): Promise<PowerState> {
    return (await this.readPower(signal)).state;
  }

  async readPower(signal: AbortSignal): Promise<PowerReading> {
    const run = await this.run('status', this.s.status, signal);
    const off = matches(this.s.offAnswer, run);
    const on = matches(this.s.onAnswer, run);
    const said = this.said(run);
    // A pattern rule reads only a run that succeeded; an exit rule is the exit status itself.
    const failed = run.exitCode !== 0 && !('exit' in this.s.offAnswer && off) && !('exit' in this.s.onAnswer && on);
    if (failed) {
      throw new CmphaError(FenceCode.error, `${this.host}: status_command exited ${run.exitCode ?? `on ${run.signal}`}: ${said}`, { retryable: true, context: { target: this.target } });
    }
    const state: PowerState = off && !on ? 'off' : on && !off ? 'on' : 'unknown';
    return { state, raw: said };
  }

  async powerOff(signal: AbortSignal): Promise<void> {
    await this.control('off', this.s.off, signal);
  }

  async powerOn(signal: AbortSignal): Promise<void> {
    if (!this.s.on) throw new CmphaError(FenceCode.configInvalid, `${this.host}: driver command has no on_command: cmpha cannot power it on`);
    await this.control('on', this.s.on, signal);
  }

  private async control(action: 'off' | 'on', argv: readonly string[], signal: AbortSignal): Promise<void> {
    const run = await this.run(action, argv, signal);
    if (run.exitCode === 0) return;
    throw new CmphaError(FenceCode.error, `${this.host}: ${action}_command exited ${run.exitCode ?? `on ${run.signal}`}: ${this.said(run)}`, {
      retryable: true, context: { target: this.target, action },
    });
  }

  private async run(what: string, template: readonly string[], signal: AbortSignal): Promise<CommandResult> {
    const values = { host: this.host, address: this.s.address ?? null, port: this.s.port === undefined ? null : String(this.s.port) };
    const argv = renderCommand(template, values, { what: `${what}_command`, noValue: FenceCode.configInvalid, unsafeValue: FenceCode.configInvalid });
    const password = this.s.password?.reveal();
    const env: Record<string, string> = {
      CMPHA_HOST: this.host,
      ...(this.s.address ? { CMPHA_FENCE_ADDRESS: this.s.address } : {}),
      ...(this.s.port !== undefined ? { CMPHA_FENCE_PORT: String(this.s.port) } : {}),
      ...(this.s.username ? { CMPHA_FENCE_USERNAME: this.s.username } : {}),
      ...(password !== undefined ? { CMPHA_FENCE_PASSWORD: password } : {}),
    };
    try {
      return await this.runner(argv[0]!, argv.slice(1), {
        env, timeoutMs: this.s.timeoutMs, signal, killGroup: true, maxOutputBytes: 64 * 1024,
        ...(this.s.passwordStdin && password !== undefined ? { input: `${password}\n` } : {}),
      });
    } catch (err) {
      if (err instanceof CmphaError) {
        if (err.code === 'command_aborted') throw new CmphaError(FenceCode.aborted, `${this.host}: ${what}_command cancelled`, { cause: err });
        if (err.code === 'command_timeout') {
          throw new CmphaError(FenceCode.timeout, `${this.host}: ${what}_command did not finish within ${this.s.timeoutMs} ms`, { retryable: true, cause: err, context: { target: this.target } });
        }
        if (err.code === 'command_not_found') throw new CmphaError(FenceCode.configInvalid, `${this.host}: ${what}_command: ${err.message}`, { cause: err });
      }
      throw new CmphaError(FenceCode.error, `${this.host}: ${what}_command: ${this.scrub(err instanceof Error ? err.message : String(err))}`, { cause: err });
    }
  }

  /** What the command printed, short, without the password (a tool could echo it). */
  private said(run: CommandResult): string {
    const text = [run.stdout.trim(), run.stderr.trim()].filter(Boolean).join('; ').replace(/\s+/g, ' ').slice(0, 300);
    return this.scrub(text) || '(no output)';
  }

  private scrub(text: string): string {
    const secret = this.s.password?.reveal() ?? '';
    return secret.length >= 4 ? text.split(secret).join('***') : text;
  }
}

function matches(rule: AnswerRule, run: CommandResult): boolean {
  return 'exit' in rule ? run.exitCode === rule.exit : rule.pattern.test(run.stdout);
}
