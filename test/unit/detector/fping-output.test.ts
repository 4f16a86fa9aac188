import { describe, expect, it } from 'vitest';
import { parseFpingOutput } from '../../../src/detector/fping-output.js';

describe('parseFpingOutput', () => {
  it('reads answered and unanswered summary lines', () => {
    const out = parseFpingOutput(
      '198.18.0.11 : xmt/rcv/%loss = 1/1/0%, min/avg/max = 0.060/0.060/0.060\n198.18.0.12 : xmt/rcv/%loss = 1/0/100%\n',
      ['198.18.0.11', '198.18.0.12'],
    );
    expect(Object.fromEntries(out)).toEqual({ '198.18.0.11': 'alive', '198.18.0.12': 'silent' });
  });

  it('counts a partial answer as alive', () => {
    const out = parseFpingOutput('10.0.0.1 : xmt/rcv/%loss = 3/1/66%, min/avg/max = 0.1/0.1/0.1\n', ['10.0.0.1']);
    expect(out.get('10.0.0.1')).toBe('alive');
  });

  it('reads "No route to host" as silent', () => {
    const out = parseFpingOutput('198.18.9.9: error while sending ping: No route to host\n198.18.9.9 : xmt/rcv/%loss = 1/0/100%\n', ['198.18.9.9']);
    expect(out.get('198.18.9.9')).toBe('silent');
    const only = parseFpingOutput('198.18.9.9: error while sending ping: No route to host\n', ['198.18.9.9']);
    expect(only.get('198.18.9.9')).toBe('silent');
  });

  it('ignores duplicate-reply notices and takes any answer among duplicate summaries', () => {
    const stderr = [
      '198.18.0.11 : duplicate for [0], 64 bytes, 0.07 ms',
      '198.18.0.11 : xmt/rcv/%loss = 1/0/100%',
      '198.18.0.11 : xmt/rcv/%loss = 1/1/0%, min/avg/max = 0.06/0.06/0.06',
      '198.18.0.12 : duplicate for [0], 64 bytes, 0.07 ms [DUP!]',
      '198.18.0.12 : xmt/rcv/%loss = 1/0/100%',
    ].join('\n');
    const out = parseFpingOutput(stderr, ['198.18.0.11', '198.18.0.12']);
    expect(out.get('198.18.0.11')).toBe('alive');
    expect(out.get('198.18.0.12')).toBe('silent');
  });

  it('ignores garbage and lines about addresses nobody asked for', () => {
    const stderr = [
      'ICMP Host Unreachable from 198.18.0.1 for ICMP Echo sent to 198.18.0.13',
      'garbage : xmt/rcv',
      '198.18.0.99 : xmt/rcv/%loss = 1/1/0%, min/avg/max = 0.06/0.06/0.06',
      '',
      '198.18.0.13 : xmt/rcv/%loss = 1/0/100%',
    ].join('\n');
    const out = parseFpingOutput(stderr, ['198.18.0.13']);
    expect([...out]).toEqual([['198.18.0.13', 'silent']]);
  });

  it('calls a requested address with no line unknown', () => {
    const out = parseFpingOutput('198.18.0.11 : xmt/rcv/%loss = 1/1/0%, min/avg/max = 1/1/1\n', ['198.18.0.11', '198.18.0.14']);
    expect(out.get('198.18.0.14')).toBe('unknown');
    expect(parseFpingOutput('', ['198.18.0.11']).get('198.18.0.11')).toBe('unknown');
  });

  it('does not confuse an address with its prefix', () => {
    const out = parseFpingOutput('198.18.0.111 : xmt/rcv/%loss = 1/1/0%, min/avg/max = 1/1/1\n', ['198.18.0.11', '198.18.0.111']);
    expect(out.get('198.18.0.11')).toBe('unknown');
    expect(out.get('198.18.0.111')).toBe('alive');
  });

  it('reads IPv6 summaries', () => {
    const out = parseFpingOutput('fd00::1 : xmt/rcv/%loss = 2/2/0%, min/avg/max = 0.02/0.03/0.04\n', ['fd00::1']);
    expect(out.get('fd00::1')).toBe('alive');
  });
});
