import { isIpLiteral } from '../config/fields.js';
import { CmphaError } from '../shared/errors.js';
import { FenceCode } from './codes.js';

/** Refuses anything but an IP literal: a name would make every fence depend on DNS at the worst moment. */
export function requireIpLiteral(address: string, where: string): string {
  if (!isIpLiteral(address)) {
    throw new CmphaError(FenceCode.configInvalid, `${where}: BMC address "${address}" is not an IP literal (names would need DNS; give the BMC's IP address)`, {
      context: { address },
    });
  }
  return address;
}
