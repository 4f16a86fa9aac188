// Pacemaker's fence_kdump protocol, as fence-agents' fence_kdump_send speaks it (checked against the Debian
// package's sender, 4.12.1): one UDP datagram of 8 bytes every interval (10 s by default), to port 7410 of each
// node named in kdump.conf's fence_kdump_nodes. The two 32-bit words are the magic 0x1B302A40 and the version 1,
// written in the crash kernel's own byte order (the sender does not convert them): little-endian from x86 and
// arm64 hosts, big-endian from s390x or ppc64. Nothing else is in it: the sender is known by its source address.

export const KDUMP_MAGIC = 0x1b302a40;
export const KDUMP_VERSION = 1;
export const KDUMP_MESSAGE_BYTES = 8;
/** fence_kdump's and fence_kdump_send's default port. */
export const KDUMP_DEFAULT_PORT = 7410;

export type KdumpMessage =
  | { readonly ok: true; readonly byteOrder: 'little' | 'big' }
  | { readonly ok: false; readonly reason: string };

/** Judges one datagram: a fence_kdump message, or why it is not one. Pure. */
export function parseKdumpMessage(data: Uint8Array): KdumpMessage {
  if (data.length !== KDUMP_MESSAGE_BYTES) return { ok: false, reason: `${data.length} bytes, a fence_kdump message has ${KDUMP_MESSAGE_BYTES}` };
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (const little of [true, false]) {
    if (view.getUint32(0, little) !== KDUMP_MAGIC) continue;
    const version = view.getUint32(4, little);
    if (version !== KDUMP_VERSION) return { ok: false, reason: `fence_kdump magic with version ${version}, only version ${KDUMP_VERSION} is known` };
    return { ok: true, byteOrder: little ? 'little' : 'big' };
  }
  return { ok: false, reason: `magic 0x${view.getUint32(0, true).toString(16).padStart(8, '0')} is not fence_kdump's 0x${KDUMP_MAGIC.toString(16)}` };
}

/** A message as a sender writes it (tests and `cmpha doctor`'s self-check). */
export function kdumpMessage(byteOrder: 'little' | 'big' = 'little'): Uint8Array {
  const out = new Uint8Array(KDUMP_MESSAGE_BYTES);
  const view = new DataView(out.buffer);
  view.setUint32(0, KDUMP_MAGIC, byteOrder === 'little');
  view.setUint32(4, KDUMP_VERSION, byteOrder === 'little');
  return out;
}
