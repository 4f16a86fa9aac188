import { describe, expect, it } from 'vitest';
import { kdumpMessage, parseKdumpMessage } from '../../../src/fencing/kdump/message.js';

describe('fence_kdump messages', () => {
  it('reads what Debian\'s fence_kdump_send 4.12.1 sends from an x86 host, and the big-endian form', () => {
    // Captured from /usr/libexec/fence-agents/fence_kdump_send -c 1 on this machine.
    expect(parseKdumpMessage(Buffer.from('402a301b01000000', 'hex'))).toEqual({ ok: true, byteOrder: 'little' });
    expect(parseKdumpMessage(Buffer.from('1b302a4000000001', 'hex'))).toEqual({ ok: true, byteOrder: 'big' });
    expect(Buffer.from(kdumpMessage()).toString('hex')).toBe('402a301b01000000');
  });

  it('says why a datagram is not one', () => {
    expect(parseKdumpMessage(Buffer.from('402a30', 'hex'))).toEqual({ ok: false, reason: '3 bytes, a fence_kdump message has 8' });
    expect(parseKdumpMessage(Buffer.from('deadbeef01000000', 'hex'))).toEqual({ ok: false, reason: 'magic 0xefbeadde is not fence_kdump\'s 0x1b302a40' });
    expect(parseKdumpMessage(Buffer.from('402a301b02000000', 'hex'))).toEqual({ ok: false, reason: 'fence_kdump magic with version 2, only version 1 is known' });
  });
});
