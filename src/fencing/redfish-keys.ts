import { key, type Typed } from '../config/declare.js';
import { bool, oneOf, text } from '../config/fields.js';

/** The `[host:NAME]` keys only the Redfish driver reads (also allowed in [host_defaults] and pattern sections). */
export const redfishKeys = {
  system: key('redfish_system', text(), 'Redfish ComputerSystem id (default: the only member of /redfish/v1/Systems).'),
  scheme: key('redfish_scheme', oneOf(['https', 'http'], 'https'), 'https or http.'),
  auth: key('redfish_auth', oneOf(['basic', 'session'], 'basic'), 'basic or session.'),
  cacert: key('redfish_cacert', text(), 'CA bundle to verify the BMC\'s certificate.'),
  insecure: key('redfish_insecure', bool(false), 'Skip TLS verification of the BMC.'),
} as const;

export type RedfishOptions = Typed<typeof redfishKeys>;
