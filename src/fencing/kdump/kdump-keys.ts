import { key } from '../../config/declare.js';
import { bool, duration, listenAddress } from '../../config/fields.js';

/** The `[kdump]` keys: where cmpha hears fence_kdump messages and how long it waits, declared next to the listener. */
export const kdumpKeys = {
  enabled: key('enabled', bool(false), 'Listen for fence_kdump messages (Pacemaker\'s protocol, sent by fence_kdump_send from a host\'s crash kernel) and make the kdump fence device available to fence_levels.'),
  listen: key('listen', listenAddress('0.0.0.0:7410'), 'UDP address:port to listen on: every cmpha controller listens, and each compute host\'s kdump.conf names every controller in fence_kdump_nodes. An IP literal.'),
  waitMs: key('wait', duration('60s', { min: '1s' }), 'How long the kdump device waits for a message when the host has not sent one lately (fence_kdump\'s timeout); a message heard within quiet_after before the fence counts at once.'),
  quietAfterMs: key('quiet_after', duration('30s', { min: '1s' }), 'No message for this long and the crash kernel has stopped sending (the dump is written, or the host rebooted). Three times fence_kdump_send\'s interval (-i, 10 s by default).'),
  maxDumpWaitMs: key('max_dump_wait', duration('10m', { min: '0s' }), 'A power-off of a host whose crash kernel is sending waits until the messages stop, so the vmcore is written, at most this long; then the power-off goes out anyway.'),
} as const;
