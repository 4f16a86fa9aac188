import { z } from 'zod';
import { fenceLevelsField } from './fence-levels-field.js';
import { bool, duration, integer, ipList, oneOf, optionalInteger, optionalIp, text } from './fields.js';

/** `[host:NAME]`: the compute host's addresses on each network the controller can ping, and its BMC. */
export const hostSection = z
  .object({
    mgmt_ip: optionalIp(),
    storage_ip: optionalIp(),
    tunnel_ip: optionalIp(),
    driver: oneOf(['ipmi', 'redfish', 'noop', 'none'], 'none'),
    address: text(),
    port: optionalInteger(1, 65535),
    username: text(),
    password: text(),
    password_file: text(),
    ipmi_interface: oneOf(['lanplus', 'lan'], 'lanplus'),
    ipmi_cipher_suite: integer(17, 0, 17),
    ipmi_timeout: duration('1s', { min: '1s' }),
    ipmi_retries: integer(1, 0, 10),
    redfish_system: text(),
    redfish_scheme: oneOf(['https', 'http'], 'https'),
    redfish_auth: oneOf(['basic', 'session'], 'basic'),
    redfish_cacert: text(),
    redfish_insecure: bool(false),
    fence_levels: fenceLevelsField(),
    storage_ips: ipList(),
    agent_command: text(),
  })
  .strict();
export type RawHostSection = z.output<typeof hostSection>;
