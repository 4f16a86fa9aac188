import { ipmiKeys } from '../fencing/ipmi-keys.js';
import { redfishKeys } from '../fencing/redfish-keys.js';
import { defineSection, key, secretKey, type Decls, type Typed } from './declare.js';
import { fenceLevelsField } from './fence-levels-field.js';
import { commandTemplate, hostAddress, ipList, oneOf, optionalInteger, optionalIp, text } from './fields.js';

/** Keys every host has, whatever its fencing driver. */
const commonHostKeys = {
  driver: key('driver', oneOf(['ipmi', 'redfish', 'noop', 'none'], 'none'), 'Fencing driver: ipmi, redfish, noop (labs only) or none.', { example: 'ipmi' }),
  port: key('port', optionalInteger(1, 65535), 'BMC port.', { default: '623 (ipmi), 443/80 (redfish)' }),
  username: key('username', text(), 'BMC user.', { example: 'admin' }),
  password: secretKey('password', 'BMC password. Prefer password_file, a file holding it. Reaches ipmitool only through its environment.', { example: 'CHANGE_ME' }),
  fenceLevels: key('fence_levels', fenceLevelsField(), 'This host\'s fence levels, e.g. ipmi | ceph or redfish, ceph | ceph; every device named must exist for the host.', { default: '([fencing] fence_levels)' }),
  agentCommand: key('agent_command', commandTemplate(), 'This host\'s own [remediation] agent_command (e.g. docker restart nova_compute through ssh on Kolla hosts).', { default: '([remediation] agent_command)' }),
} as const;

/** Keys that name one machine: only in `[host:NAME]`, never shared through defaults or patterns. */
const perHostKeys = {
  mgmtIp: key('mgmt_ip', optionalIp(), 'Management IP to ping (default: the hypervisor\'s host_ip). IP literal only.', { example: '192.0.2.11' }),
  storageIp: key('storage_ip', optionalIp(), 'One address on the storage network; the same as a one-element storage_ips (both may be given, they add up).', { example: '192.0.2.51' }),
  storageIps: key('storage_ips', ipList(), 'Comma-separated IP literals of the host on its storage network, the addresses its Ceph clients use: pinged as independent evidence (if one answers the host is not dead), blocklisted by the ceph device, and whose watchers prove a single writer.'),
  tunnelIp: key('tunnel_ip', optionalIp(), 'The host\'s address on the tunnel (overlay) network, the same kind of evidence. IP literal only.', { example: '192.0.2.91' }),
  address: key('address', hostAddress(), 'BMC address: an IP literal, or for ipmi also a DNS name, resolved once at start (and by `cmpha doctor`) so a fence never waits on DNS.', { example: '192.0.2.111' }),
} as const;

function split<D extends Decls>(all: Typed<D>, decls: Decls): { own: Record<string, unknown>; rest: Record<string, unknown> } {
  const own: Record<string, unknown> = {};
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(all)) (k in decls ? own : rest)[k] = v;
  return { own, rest };
}

const hostDecls = { ...perHostKeys, ...commonHostKeys, ...prefixed(ipmiKeys, 'ipmi'), ...prefixed(redfishKeys, 'redfish') };

/** Driver keys get a prefix in the flat declaration so two drivers may use the same property name. */
function prefixed<D extends Decls, P extends string>(decls: D, prefix: P): { [K in keyof D & string as `${P}.${K}`]: D[K] } {
  return Object.fromEntries(Object.entries(decls).map(([k, v]) => [`${prefix}.${k}`, v])) as { [K in keyof D & string as `${P}.${K}`]: D[K] };
}

type Flat = Typed<typeof hostDecls>;
export type RawHostSection = Typed<typeof perHostKeys> & Typed<typeof commonHostKeys> & {
  readonly ipmi: Typed<typeof ipmiKeys>;
  readonly redfish: Typed<typeof redfishKeys>;
};

function nest(flat: Flat): RawHostSection {
  const { own, rest } = split(flat, { ...perHostKeys, ...commonHostKeys });
  const ipmi: Record<string, unknown> = {};
  const redfish: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest)) {
    const [group, prop] = k.split('.') as [string, string];
    (group === 'ipmi' ? ipmi : redfish)[prop] = v;
  }
  return { ...own, ipmi, redfish } as unknown as RawHostSection;
}

export const hostSectionDecl = defineSection(
  'host:NAME',
  'One section per compute host (NAME = the nova-compute service host). A host without fencing is never evacuated. Keys shared by many hosts go in [host_defaults] or in pattern sections such as [host:compute-*] (shell wildcards * and ?); a host takes, lowest first: [host_defaults], each matching pattern section in file order, its own section. Pattern sections do not declare hosts; mgmt_ip, storage_ip(s), tunnel_ip and address are per host only.',
  hostDecls,
  { finish: nest },
);

/** The strict INI shape of `[host:NAME]`. */
export const hostSection = hostSectionDecl.object;

/** The INI keys that may be shared by [host_defaults] and `[host:PATTERN]` sections. */
export const sharedHostDecls = { ...commonHostKeys, ...prefixed(ipmiKeys, 'ipmi'), ...prefixed(redfishKeys, 'redfish') };

export const hostDefaultsSection = defineSection(
  'host_defaults',
  'Defaults for every [host:NAME] section (driver, BMC user, password file, driver options), so a fleet is one short section per host. A pattern section [host:compute-*] takes the same keys for the hosts it matches.',
  sharedHostDecls,
);
