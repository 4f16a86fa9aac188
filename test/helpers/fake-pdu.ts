import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * A switched PDU's command-line tool, as a real process: `pdu DIR off|on|status OUTLET`. The outlet's power is
 * a file in DIR; every argv it was run with is logged, so a test can look for a password there. It checks the
 * password from CMPHA_FENCE_PASSWORD (or from stdin in stdin mode) against its own.
 */
const SCRIPT = `#!/bin/sh
dir="$1"; action="$2"; outlet="$3"
echo "$*" >> "$dir/argv.log"
if [ -f "$dir/stdin-only" ]; then IFS= read -r given || given=""; else given="$CMPHA_FENCE_PASSWORD"; fi
if [ "$given" != "$(cat "$dir/password")" ]; then echo "authentication failed for user $CMPHA_FENCE_USERNAME" >&2; exit 5; fi
case "$action" in
  status)
    if [ -f "$dir/hang" ]; then sleep 30; fi
    state="$(cat "$dir/state")"
    if [ -f "$dir/garbage" ]; then echo "outlet $outlet: ???"; exit 0; fi
    if [ -f "$dir/exit-codes" ]; then echo "outlet $outlet"; [ "$state" = off ] && exit 3; exit 0; fi
    echo "outlet $outlet is $state" ;;
  off) [ -f "$dir/stuck" ] || echo off > "$dir/state"; echo "outlet $outlet: switching off" ;;
  on) echo on > "$dir/state"; echo "outlet $outlet: switching on" ;;
  *) echo "unknown action $action" >&2; exit 2 ;;
esac
`;

export type PduQuirk = 'stuck' | 'hang' | 'garbage' | 'exit-codes' | 'stdin-only';

export class FakePdu {
  readonly dir: string;
  readonly script: string;

  constructor(readonly password: string, power: 'on' | 'off' = 'on') {
    this.dir = mkdtempSync(path.join(tmpdir(), 'cmpha-pdu-'));
    this.script = path.join(this.dir, 'pdu');
    writeFileSync(this.script, SCRIPT);
    chmodSync(this.script, 0o755);
    writeFileSync(path.join(this.dir, 'password'), password, { mode: 0o600 });
    writeFileSync(path.join(this.dir, 'argv.log'), '');
    this.power = power;
  }

  get power(): 'on' | 'off' {
    return readFileSync(path.join(this.dir, 'state'), 'utf8').trim() as 'on' | 'off';
  }

  set power(state: 'on' | 'off') {
    writeFileSync(path.join(this.dir, 'state'), `${state}\n`);
  }

  /** Every argv the tool was run with, one line each. */
  argvLog(): string {
    return readFileSync(path.join(this.dir, 'argv.log'), 'utf8');
  }

  quirk(q: PduQuirk, on = true): void {
    const f = path.join(this.dir, q);
    if (on) writeFileSync(f, '');
    else if (existsSync(f)) rmSync(f);
  }

  /** `off_command` and `status_command` for a host section. */
  commands(outlet = '{host}'): string[] {
    return [`off_command = ${this.script} ${this.dir} off ${outlet}`, `status_command = ${this.script} ${this.dir} status ${outlet}`, `on_command = ${this.script} ${this.dir} on ${outlet}`];
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
