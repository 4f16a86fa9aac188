import { describe, expect, it } from 'vitest';
import { isPowerControlAck, parsePowerStatus } from '../../../src/fencing/ipmi-output.js';

describe('parsePowerStatus', () => {
  it('reads the two exact answers of ipmitool', () => {
    expect(parsePowerStatus('Chassis Power is on\n')).toBe('on');
    expect(parsePowerStatus('Chassis Power is off\n')).toBe('off');
  });

  it.each([
    [''],
    ['Chassis Power is unknown'],
    ['Chassis Power is offline'],
    ['chassis power is off'],
    ['Chassis Power is off\nChassis Power is on'],
    ['Get Chassis Power Status failed: Unspecified error'],
    ['Chassis Power Control: Down/Off'],
    ['power:0'],
  ])('reads %j as unknown', (stdout) => {
    expect(parsePowerStatus(stdout)).toBe('unknown');
  });
});

describe('isPowerControlAck', () => {
  it('accepts only the acknowledgement of the request that was made', () => {
    expect(isPowerControlAck('Chassis Power Control: Down/Off\n', 'off')).toBe(true);
    expect(isPowerControlAck('Chassis Power Control: Up/On\n', 'on')).toBe(true);
    expect(isPowerControlAck('Chassis Power Control: Up/On\n', 'off')).toBe(false);
    expect(isPowerControlAck('', 'off')).toBe(false);
    expect(isPowerControlAck('Set Chassis Power Control to Down/Off failed: Node busy', 'off')).toBe(false);
  });
});
