import { key, type Typed } from '../config/declare.js';
import { duration, integer, oneOf } from '../config/fields.js';

/** The `[host:NAME]` keys only the ipmitool driver reads (also allowed in [host_defaults] and pattern sections). */
export const ipmiKeys = {
  interface: key('ipmi_interface', oneOf(['lanplus', 'lan'], 'lanplus'), 'ipmitool -I.'),
  cipherSuite: key('ipmi_cipher_suite', integer(17, 0, 17), 'ipmitool -C (17 on modern BMCs; 3 on older ones and OpenIPMI\'s ipmi_sim).'),
  // ipmitool -N takes whole seconds.
  timeoutS: key('ipmi_timeout', duration('1s', { min: '1s' }).transform((ms) => Math.max(1, Math.round(ms / 1000))), 'ipmitool -N: per-try timeout (whole seconds).', { default: '1s' }),
  retries: key('ipmi_retries', integer(1, 0, 10), 'ipmitool -R: retries, so an unreachable BMC fails in seconds.'),
} as const;

export type IpmiOptions = Typed<typeof ipmiKeys>;
