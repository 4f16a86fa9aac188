import type { IpmiOptions } from './ipmi-keys.js';
import type { Secret } from '../config/secret.js';
import { CmphaError } from '../shared/errors.js';
import { silentLogger, type Logger } from '../shared/logger.js';
import { runCommand, type CommandResult, type CommandRunner } from '../shared/run-command.js';
import { FenceCode } from './codes.js';
import { requireIpLiteral } from './ip-literal.js';
import { classifyIpmiFailure, stderrSummary } from './ipmi-errors.js';
import { isPowerControlAck, parsePowerStatus } from './ipmi-output.js';
import type { FenceDriver, PowerReading, PowerState } from './types.js';

export interface IpmiDriverOptions {
  /** Used in messages, e.g. the host's name. */
  readonly name: string;
  /** The BMC's IP literal. */
  readonly address: string;
  readonly port: number;
  readonly username: string;
  readonly password: Secret;
  readonly ipmi: IpmiOptions;
  readonly ipmitoolPath?: string;
  /** Defaults to the shared runCommand; tests may wrap it to count calls. */
  readonly runner?: CommandRunner;
  readonly logger?: Logger;
}

// ipmitool makes up to about five requests per command (auth capabilities, open session, RAKP 1 and 3, the
// command itself), each waiting -N seconds and resent -R times. Past that it is hung, not slow.
const REQUESTS_PER_COMMAND = 5;
const SPAWN_SLACK_MS = 2000;

/**
 * Fences through `ipmitool`. The password travels only in the child's environment (`-E` reads IPMI_PASSWORD),
 * never in argv where every local user can read it from /proc. Runs ipmitool with -v because only then does it
 * say whether a failed session was a bad password or a BMC that never answered.
 */
export class IpmiDriver implements FenceDriver {
  readonly kind = 'ipmi' as const;
  readonly target: string;
  private readonly opts: IpmiDriverOptions;
  private readonly runner: CommandRunner;
  private readonly logger: Logger;
  private readonly callTimeoutMs: number;

  constructor(opts: IpmiDriverOptions) {
    requireIpLiteral(opts.address, `host ${opts.name}`);
    if (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535) {
      throw new CmphaError(FenceCode.configInvalid, `host ${opts.name}: BMC port ${opts.port} is not in 1..65535`);
    }
    this.opts = opts;
    this.runner = opts.runner ?? runCommand;
    this.logger = (opts.logger ?? silentLogger).child({ host: opts.name, bmc: 'ipmi' });
    this.target = `ipmi://${opts.address.includes(':') ? `[${opts.address}]` : opts.address}:${opts.port}`;
    this.callTimeoutMs = REQUESTS_PER_COMMAND * opts.ipmi.timeoutS * 1000 * (opts.ipmi.retries + 1) + SPAWN_SLACK_MS;
  }

  /** The argv ipmitool gets for `chassis power <action>`; exported for tests that look for the password in it. */
  args(action: 'status' | 'off' | 'on'): string[] {
    const { ipmi } = this.opts;
    return [
      '-I', ipmi.interface,
      ...(ipmi.interface === 'lanplus' ? ['-C', String(ipmi.cipherSuite)] : []),
      '-H', this.opts.address,
      '-p', String(this.opts.port),
      '-U', this.opts.username,
      '-N', String(ipmi.timeoutS),
      '-R', String(ipmi.retries),
      '-v',
      '-E',
      'chassis', 'power', action,
    ];
  }

  async powerStatus(signal: AbortSignal): Promise<PowerState> {
    return (await this.readPower(signal)).state;
  }

  async readPower(signal: AbortSignal): Promise<PowerReading> {
    const run = await this.run('status', signal);
    const state = parsePowerStatus(run.stdout);
    const raw = this.scrub(state === 'unknown' ? [run.stdout.trim(), stderrSummary(run.stderr)].filter(Boolean).join('; ') : run.stdout.trim());
    if (state === 'unknown') this.logger.warn({ answer: raw }, 'BMC power status is neither on nor off');
    return { state, raw: raw === '' ? '(no answer)' : raw };
  }

  async powerOff(signal: AbortSignal): Promise<void> {
    await this.control('off', signal);
  }

  async powerOn(signal: AbortSignal): Promise<void> {
    await this.control('on', signal);
  }

  private async control(action: 'off' | 'on', signal: AbortSignal): Promise<void> {
    const run = await this.run(action, signal);
    if (run.exitCode === 0 && isPowerControlAck(run.stdout, action)) return;
    const said = this.scrub([run.stdout.trim(), stderrSummary(run.stderr)].filter(Boolean).join('; ')) || '(no answer)';
    throw new CmphaError(FenceCode.error, `${this.opts.name}: BMC at ${this.target} did not acknowledge power ${action}: ${said}`, {
      context: { target: this.target, action },
    });
  }

  private async run(action: 'status' | 'off' | 'on', signal: AbortSignal): Promise<CommandResult> {
    let run: CommandResult;
    try {
      run = await this.runner(this.opts.ipmitoolPath ?? 'ipmitool', this.args(action), {
        env: { IPMI_PASSWORD: this.opts.password.reveal() },
        timeoutMs: this.callTimeoutMs,
        signal,
      });
    } catch (err) {
      throw this.spawnFailure(err, action);
    }
    const failure = classifyIpmiFailure(run);
    if (failure) {
      const detail = this.scrub(stderrSummary(run.stderr));
      throw new CmphaError(failure.code, `${this.opts.name}: ${failure.reason} (${this.target}, power ${action}): ${detail}`, {
        retryable: failure.retryable,
        context: { target: this.target, action },
      });
    }
    return run;
  }

  private spawnFailure(err: unknown, action: string): CmphaError {
    if (err instanceof CmphaError) {
      if (err.code === 'command_aborted') return new CmphaError(FenceCode.aborted, `${this.opts.name}: power ${action} cancelled`, { cause: err });
      if (err.code === 'command_timeout') {
        return new CmphaError(FenceCode.timeout, `${this.opts.name}: ipmitool did not finish within ${this.callTimeoutMs} ms (${this.target}, power ${action})`, {
          retryable: true, cause: err, context: { target: this.target, action },
        });
      }
      return new CmphaError(FenceCode.error, `${this.opts.name}: ${err.message}`, { cause: err, context: { target: this.target, action } });
    }
    return new CmphaError(FenceCode.error, `${this.opts.name}: ipmitool failed: ${String(err)}`, { cause: err });
  }

  // The password is never printed by ipmitool -v, but a BMC could echo anything: keep it out of every message.
  private scrub(text: string): string {
    const secret = this.opts.password.reveal();
    return secret.length >= 4 ? text.split(secret).join('***') : text;
  }
}
