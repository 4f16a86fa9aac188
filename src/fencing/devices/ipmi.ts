import type { PowerDeviceType } from '../device.js';
import { IpmiDriver } from '../ipmi-driver.js';
import { ipmiKeys, type IpmiOptions } from '../ipmi-keys.js';
import { bmcSettings, hostPort, shownBmc, type BmcSettings } from './bmc-settings.js';

export interface IpmiSettings extends BmcSettings {
  readonly ipmi: IpmiOptions;
}

/** A BMC spoken to with ipmitool (IPMI over LAN); the password only in ipmitool's environment. */
export const ipmiDevice: PowerDeviceType<'ipmi', typeof ipmiKeys, IpmiSettings> = {
  name: 'ipmi',
  role: 'power',
  witness: true,
  summary: 'a BMC through ipmitool, IPMI 2.0 over LAN',
  keys: ipmiKeys,
  settings(host, own, report) {
    const bmc = bmcSettings('ipmi', host, 623, report);
    if (!bmc) return undefined;
    // IPMI 2.0 carries at most 20 bytes of password; ipmitool silently sends the first 20, so the BMC would
    // refuse every fence with an authentication error that does not say why.
    const bytes = Buffer.byteLength(bmc.password.reveal(), 'utf8');
    if (bytes > 20) {
      report('password', `is ${bytes} bytes long; IPMI passwords are at most 20 bytes (ipmitool would send only the first 20)`);
      return undefined;
    }
    return { ...bmc, ipmi: own };
  },
  where: (s) => hostPort(s.address, s.port),
  shown: shownBmc,
  switch: (s, env) => new IpmiDriver({
    name: env.host, address: s.address, port: s.port, username: s.username, password: s.password, ipmi: s.ipmi,
    ipmitoolPath: env.ipmitoolPath,
    ...(env.runner ? { runner: env.runner } : {}),
    ...(env.logger ? { logger: env.logger } : {}),
  }),
};
