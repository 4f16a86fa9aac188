import { readFileSync } from 'node:fs';
import { CmphaError, errorMessage } from '../../shared/errors.js';
import { FenceCode } from '../codes.js';
import type { PowerDeviceType } from '../device.js';
import { RedfishDriver } from '../redfish-driver.js';
import { redfishKeys, type RedfishOptions } from '../redfish-keys.js';
import { bmcSettings, hostPort, shownBmc, type BmcSettings } from './bmc-settings.js';

export interface RedfishSettings extends BmcSettings {
  readonly redfish: RedfishOptions;
}

/** A BMC's Redfish API: ComputerSystem.Reset ForceOff, PowerState read back. */
export const redfishDevice: PowerDeviceType<'redfish', typeof redfishKeys, RedfishSettings> = {
  name: 'redfish',
  role: 'power',
  witness: true,
  summary: 'a BMC\'s Redfish API',
  keys: redfishKeys,
  settings(host, own, report) {
    const bmc = bmcSettings('redfish', host, own.scheme === 'https' ? 443 : 80, report);
    return bmc && { ...bmc, redfish: own };
  },
  where: (s) => hostPort(s.address, s.port),
  shown: shownBmc,
  switch(s, env) {
    let ca: string | undefined;
    if (s.redfish.cacert) {
      try {
        ca = (env.readFile ?? ((p: string) => readFileSync(p, 'utf8')))(s.redfish.cacert);
      } catch (err) {
        throw new CmphaError(FenceCode.configInvalid, `[host:${env.host}] redfish_cacert: cannot read ${s.redfish.cacert}: ${errorMessage(err)}`, { cause: err });
      }
    }
    return new RedfishDriver({
      name: env.host, address: s.address, port: s.port, username: s.username, password: s.password, redfish: s.redfish,
      ...(ca ? { ca } : {}),
      ...(env.proxy ? { proxy: env.proxy } : {}),
      ...(env.redfishRequestTimeoutMs ? { requestTimeoutMs: env.redfishRequestTimeoutMs } : {}),
      ...(env.logger ? { logger: env.logger } : {}),
    });
  },
};
