import type { PowerState } from './types.js';

// ipmitool 1.8.x prints exactly these lines for `chassis power status|off|on`. Anything else (extra words, a
// vendor's variant, an error) is not proof of anything, so it reads as `unknown`: the fence step never treats a
// host as off on a guess.
const STATUS_ON = 'Chassis Power is on';
const STATUS_OFF = 'Chassis Power is off';

/** Reads `ipmitool chassis power status` stdout. Only the exact one-line answers count. */
export function parsePowerStatus(stdout: string): PowerState {
  const text = stdout.trim();
  if (text === STATUS_ON) return 'on';
  if (text === STATUS_OFF) return 'off';
  return 'unknown';
}

/** True when `ipmitool chassis power off|on` stdout is the BMC's acknowledgement of that request. */
export function isPowerControlAck(stdout: string, request: 'off' | 'on'): boolean {
  const expected = request === 'off' ? 'Chassis Power Control: Down/Off' : 'Chassis Power Control: Up/On';
  return stdout.trim() === expected;
}
