import { execFile, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freeUdpPort } from './ports.js';
import { ProcessGroup } from './processes.js';

/**
 * - `normal`: power off/on change the power state.
 * - `stuck-on`: power off is acknowledged but the state stays as it was (a BMC that lies, or a jammed relay).
 * - `garbage`: the power state hook answers something that is not power:0/1, so the BMC reports an error.
 */
export type BmcMode = 'normal' | 'stuck-on' | 'garbage';

export interface BmcUser {
  readonly name: string;
  readonly password: string;
  readonly privilege: 'user' | 'operator' | 'admin';
}

export interface StartBmcOptions {
  readonly power?: 'on' | 'off';
  readonly mode?: BmcMode;
  readonly username?: string;
  readonly password?: string;
  readonly extraUsers?: readonly BmcUser[];
  /** Commands (argv lists, no shell) run in the background when the power goes from on to off. */
  readonly onPowerOff?: readonly (readonly string[])[];
  /** Commands run in the background when the power goes from off to on. */
  readonly onPowerOn?: readonly (readonly string[])[];
}

export interface SimulatedBmc {
  readonly address: '127.0.0.1';
  readonly port: number;
  readonly username: string;
  readonly password: string;
  readonly pid: number;
  /** The power state the hook keeps (what a real host would be doing). */
  power(): 'on' | 'off';
  setPower(state: 'on' | 'off'): void;
  setMode(mode: BmcMode): void;
  /** Every request the BMC passed to the power hook, e.g. "get power", "set power 0". */
  hookCalls(): string[];
  /** How many power-off requests reached the hook. */
  powerOffRequests(): number;
}

const HOOK = `#!/bin/sh
# chassis_control hook for ipmi_sim: called as "hook DIR get power" or "hook DIR set power 0|1".
# It must answer at once (ipmi_sim resends on a slow hook), so side effects run detached in the background.
dir="$1"; shift
echo "$*" >> "$dir/calls.log"
mode=$(cat "$dir/mode")
state=$(cat "$dir/power")
case "$1 $2" in
  "get power")
    if [ "$mode" = garbage ]; then echo "power:unreadable"; else echo "power:$state"; fi ;;
  "set power")
    [ "$mode" = stuck-on ] && exit 0
    echo "$3" > "$dir/power.tmp" && mv "$dir/power.tmp" "$dir/power"
    if [ "$state" = 1 ] && [ "$3" = 0 ]; then sh "$dir/on-power-off.sh" </dev/null >/dev/null 2>&1 & fi
    if [ "$state" = 0 ] && [ "$3" = 1 ]; then sh "$dir/on-power-on.sh" </dev/null >/dev/null 2>&1 & fi
    ;;
esac
exit 0
`;

// A minimal BMC: ipmi_sim ships no example .emu on Debian.
const EMU = `mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02
sel_enable 0x20 50 0x0a
mc_enable 0x20
`;

const PRIV_AUTHS = 'none md2 md5 straight';

function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

function script(commands: readonly (readonly string[])[] | undefined): string {
  return `${(commands ?? []).map((argv) => argv.map(shellQuote).join(' ')).join('\n')}\n`;
}

function ipmiConfString(s: string): string {
  if (s.length > 16) throw new Error(`test BMC credentials are at most 16 characters (IPMI v1.5 limit): ${s}`);
  if (/["\\\s]/.test(s)) throw new Error(`test BMC credentials must not contain quotes, backslashes or spaces: ${s}`);
  return `"${s}"`;
}

/**
 * Real OpenIPMI `ipmi_sim` BMCs on free loopback UDP ports, one per simulated host, each in its own temp dir with a
 * power hook that keeps the power state in a file. Call stopAll() in afterAll/afterEach: every ipmi_sim is stopped
 * by its pid and every temp dir removed.
 */
export class IpmiSimLab {
  private readonly group = new ProcessGroup();
  private readonly dirs: string[] = [];

  async start(opts: StartBmcOptions = {}): Promise<SimulatedBmc> {
    const username = opts.username ?? 'admin';
    const password = opts.password ?? 'bmc-pass-1234';
    const dir = mkdtempSync(path.join(tmpdir(), 'cmpha-bmc-'));
    this.dirs.push(dir);
    mkdirSync(path.join(dir, 'state'));
    const port = await freeUdpPort();
    const file = (name: string) => path.join(dir, name);
    writeFileSync(file('power'), opts.power === 'off' ? '0\n' : '1\n');
    // Ready is probed with a status request, which only a normal BMC answers; the mode is set after that.
    writeFileSync(file('mode'), 'normal\n');
    writeFileSync(file('calls.log'), '');
    writeFileSync(file('on-power-off.sh'), script(opts.onPowerOff));
    writeFileSync(file('on-power-on.sh'), script(opts.onPowerOn));
    writeFileSync(file('hook.sh'), HOOK);
    chmodSync(file('hook.sh'), 0o755);
    writeFileSync(file('bmc.emu'), EMU);
    const users = [{ name: username, password, privilege: 'admin' as const }, ...(opts.extraUsers ?? [])];
    writeFileSync(file('lan.conf'), [
      'name "cmpha-test"',
      'set_working_mc 0x20',
      '  startlan 1',
      `    addr 127.0.0.1 ${port}`,
      '    priv_limit admin',
      `    allowed_auths_callback ${PRIV_AUTHS}`,
      `    allowed_auths_user ${PRIV_AUTHS}`,
      `    allowed_auths_operator ${PRIV_AUTHS}`,
      `    allowed_auths_admin ${PRIV_AUTHS}`,
      '    guid a123456789abcdefa123456789abcdef',
      '  endlan',
      `  chassis_control "${file('hook.sh')} ${dir}"`,
      ...users.map((u, i) => `  user ${i + 2} true ${ipmiConfString(u.name)} ${ipmiConfString(u.password)} ${u.privilege} 10 ${PRIV_AUTHS}`),
      '',
    ].join('\n'));

    const child = this.group.start('ipmi_sim', ['-c', file('lan.conf'), '-f', file('bmc.emu'), '-s', file('state'), '-n'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    await waitForBmc(child, port, username, password, () => stderr);
    writeFileSync(file('mode'), `${opts.mode ?? 'normal'}\n`);
    // The readiness probe is not part of any test's story.
    writeFileSync(file('calls.log'), '');

    return {
      address: '127.0.0.1',
      port,
      username,
      password,
      pid: child.pid!,
      power: () => (readFileSync(file('power'), 'utf8').trim() === '0' ? 'off' : 'on'),
      setPower: (state) => writeFileSync(file('power'), state === 'off' ? '0\n' : '1\n'),
      setMode: (mode) => writeFileSync(file('mode'), `${mode}\n`),
      hookCalls: () => readFileSync(file('calls.log'), 'utf8').split('\n').filter(Boolean),
      powerOffRequests: () => readFileSync(file('calls.log'), 'utf8').split('\n').filter((l) => l === 'set power 0').length,
    };
  }

  async stopAll(): Promise<void> {
    await this.group.stopAll();
    for (const dir of this.dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}

/** Waits until the BMC answers a real ipmitool status request (ipmi_sim prints nothing when it is ready). */
async function waitForBmc(child: ChildProcess, port: number, user: string, password: string, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`ipmi_sim exited (${child.exitCode ?? child.signalCode}): ${stderr()}`);
    const ok = await new Promise<boolean>((resolve) => {
      execFile('ipmitool', ['-I', 'lanplus', '-C', '3', '-H', '127.0.0.1', '-p', String(port), '-U', user, '-N', '1', '-R', '0', '-E', 'chassis', 'power', 'status'],
        { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', IPMI_PASSWORD: password }, timeout: 5000 },
        (err) => resolve(!err));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`ipmi_sim on udp/${port} did not answer within 10 s: ${stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
