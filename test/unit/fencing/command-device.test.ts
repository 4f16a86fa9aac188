import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createFenceDriver } from '../../../src/fencing/create-driver.js';
import { parseAnswerRule } from '../../../src/fencing/devices/command.js';
import type { CommandResult, CommandRunner, RunOptions } from '../../../src/shared/run-command.js';
import { configTexts } from '../../helpers/config-text.js';

const texts = configTexts();
const { load, problems, dir } = texts;
afterAll(() => texts.remove());
const COMMAND = 'driver = command\noff_command = /opt/pdu --pdu {address} off {host}\nstatus_command = /opt/pdu --pdu {address} status {host}\naddress = 192.0.2.7\nusername = apc\npassword = outlet-secret\n';

/** A runner that answers as told and records every run (argv and environment). */
function runner(answer: Partial<CommandResult>, runs: { file: string; args: readonly string[]; opts: RunOptions }[] = []): CommandRunner {
  return async (file, args, opts) => {
    runs.push({ file, args, opts });
    return { exitCode: 0, signal: null, stdout: '', stderr: '', durationMs: 1, ...answer };
  };
}

describe('the command fence device', () => {
  it('reads its answer rules: exit=N, or a case-insensitive regular expression', () => {
    expect(parseAnswerRule('exit=3')).toEqual({ exit: 3 });
    expect(parseAnswerRule(' exit = 0 ')).toEqual({ exit: 0 });
    expect(parseAnswerRule('exit=300')).toEqual({ error: 'exit status 300 is not in 0..255' });
    const r = parseAnswerRule('state: *off');
    expect('pattern' in r && r.pattern.test('STATE: OFF')).toBe(true);
    expect(parseAnswerRule('(off')).toMatchObject({ error: expect.stringMatching(/not a regular expression/) });
  });

  it('loads driver = command from the host section, with [host_defaults] sharing the commands', async () => {
    const cfg = await load(`[host_defaults]\noff_command = /opt/pdu {address} off {host}\nstatus_command = /opt/pdu {address} status {host}\noff_answer = exit=3\n[host:c1]\ndriver = command\naddress = 192.0.2.7\n`);
    expect(cfg.hosts.c1!.fence).toMatchObject({ driver: 'command', off: ['/opt/pdu', '{address}', 'off', '{host}'], offAnswer: { exit: 3 }, timeoutMs: 10_000, passwordStdin: false, address: '192.0.2.7' });
    expect(cfg.hosts.c1!.fenceLevels).toEqual([['command']]);
  });

  it('refuses a command device without a status command, a bad rule, or a credential as a placeholder', async () => {
    expect(await problems('[host:c1]\ndriver = command\noff_command = /opt/pdu off\n')).toEqual(expect.arrayContaining([expect.stringMatching(/status_command: is required for driver command/)]));
    expect(await problems(`[host:c1]\n${COMMAND}off_answer = (off\n`)).toEqual(expect.arrayContaining([expect.stringMatching(/off_answer: not a regular expression/)]));
    expect(await problems(`[host:c1]\n${COMMAND.replace('off {host}', 'off {host} {password}')}`)).toEqual(expect.arrayContaining([expect.stringMatching(/off_command: unknown placeholder \{password\} \(known: \{host\}, \{address\}, \{port\}\)/)]));
  });

  it('a command level combines with ceph like any other power device', async () => {
    const keyring = path.join(dir, 'k');
    writeFileSync(keyring, '[client.cmpha]\n\tkey = AQAAAAAAAAAAABAAAAAAAAAAAAAAAAAAAAAAAA==\n');
    const cfg = await load(`[ceph]\nmon_host = 192.0.2.100\nkeyring_file = ${keyring}\n[host:c1]\n${COMMAND}storage_ips = 198.18.30.11\nfence_levels = command | ceph\n`);
    expect(cfg.hosts.c1!.fenceLevels).toEqual([['command'], ['ceph']]);
    expect(await problems(`[host:c1]\n${COMMAND}fence_levels = ipmi\n`)).toEqual(expect.arrayContaining([expect.stringMatching(/ipmi needs driver = ipmi \(this host's driver is command\)/)]));
  });

  it('passes the credentials in the environment (or stdin), never in argv; renders the placeholders', async () => {
    const cfg = await load(`[host:c1]\n${COMMAND}password_stdin = true\n`);
    const runs: { file: string; args: readonly string[]; opts: RunOptions }[] = [];
    const sw = createFenceDriver(cfg.hosts.c1!, cfg.fencing, { runner: runner({ stdout: 'Outlet 7: OFF' }, runs) })!;
    expect(await sw.powerStatus(AbortSignal.timeout(1000))).toBe('off');
    await sw.powerOff(AbortSignal.timeout(1000));
    expect(runs.map((r) => [r.file, ...r.args].join(' '))).toEqual(['/opt/pdu --pdu 192.0.2.7 status c1', '/opt/pdu --pdu 192.0.2.7 off c1']);
    for (const r of runs) {
      expect(r.args.join(' ')).not.toContain('outlet-secret');
      expect(r.opts.env).toMatchObject({ CMPHA_HOST: 'c1', CMPHA_FENCE_ADDRESS: '192.0.2.7', CMPHA_FENCE_USERNAME: 'apc', CMPHA_FENCE_PASSWORD: 'outlet-secret' });
      expect(r.opts.input).toBe('outlet-secret\n');
      expect(r.opts).toMatchObject({ timeoutMs: 10_000, killGroup: true });
    }
  });

  it('judges the status answer: off only when the off rule alone matches; a failed run is an error, not a state', async () => {
    const cfg = await load(`[host:c1]\n${COMMAND}`);
    const read = async (answer: Partial<CommandResult>, extra = '') => {
      const c = extra ? await load(`[host:c1]\n${COMMAND}${extra}`) : cfg;
      return createFenceDriver(c.hosts.c1!, c.fencing, { runner: runner(answer) })!.readPower!(AbortSignal.timeout(1000));
    };
    expect((await read({ stdout: 'power is off' })).state).toBe('off');
    expect((await read({ stdout: 'power is ON' })).state).toBe('on');
    expect((await read({ stdout: 'offline' })).state).toBe('unknown');
    expect((await read({ stdout: 'on, going off' })).state).toBe('unknown');
    await expect(read({ exitCode: 1, stdout: 'power is off', stderr: 'session lost, password outlet-secret' })).rejects.toMatchObject({
      code: 'bmc_error', retryable: true, message: expect.not.stringContaining('outlet-secret'),
    });
    expect((await read({ exitCode: 3 }, 'off_answer = exit=3\non_answer = exit=0\n')).state).toBe('off');
    expect((await read({ exitCode: 0 }, 'off_answer = exit=3\non_answer = exit=0\n')).state).toBe('on');
    await expect(read({ exitCode: 1 }, 'off_answer = exit=3\non_answer = exit=0\n')).rejects.toMatchObject({ code: 'bmc_error' });
  });

  it('an off command that fails is a retryable error; power on without on_command is a config error', async () => {
    const cfg = await load(`[host:c1]\n${COMMAND}`);
    const sw = createFenceDriver(cfg.hosts.c1!, cfg.fencing, { runner: runner({ exitCode: 2, stderr: 'outlet busy' }) })!;
    await expect(sw.powerOff(AbortSignal.timeout(1000))).rejects.toMatchObject({ code: 'bmc_error', retryable: true, message: 'c1: off_command exited 2: outlet busy' });
    await expect(sw.powerOn(AbortSignal.timeout(1000))).rejects.toMatchObject({ code: 'fence_config_invalid' });
  });
});
