import { FENCE_DEVICE_TYPES, POWER_DEVICE_NAMES, type DeviceKeysOf, type PowerDeviceName } from '../fencing/devices/registry.js';
import { defineSection, key, secretKey, type Decl, type Decls, type Typed } from './declare.js';
import { fenceLevelsField } from './fence-levels-field.js';
import { bool, commandTemplate, hostAddress, ipList, oneOf, optionalInteger, optionalIp, text } from './fields.js';

/** Keys every host has, whatever its fencing driver. */
const commonHostKeys = {
  driver: key('driver', oneOf([...POWER_DEVICE_NAMES, 'none'] as unknown as [PowerDeviceName | 'none', ...(PowerDeviceName | 'none')[]], 'none'),
    `The host's power device. ${FENCE_DEVICE_TYPES.filter((t) => t.role === 'power').map((t) => `${t.name}: ${t.summary}`).join('; ')}; none: no fencing, so the host is never evacuated.`, { example: 'ipmi' }),
  port: key('port', optionalInteger(1, 65535), 'BMC port.', { default: '623 (ipmi), 443/80 (redfish)' }),
  username: key('username', text(), 'BMC user.', { example: 'admin' }),
  password: secretKey('password', 'BMC password. Prefer password_file, a file holding it. Reaches ipmitool only through its environment.', { example: 'CHANGE_ME' }),
  fenceLevels: key('fence_levels', fenceLevelsField(), 'This host\'s fence levels, e.g. ipmi | ceph or redfish, ceph | ceph; every device named must exist for the host.', { default: '([fencing] fence_levels)' }),
  ha: key('ha', bool(true), 'false: opt this host out of HA. It is still watched and reported (check, status, alerts), and never fenced or evacuated; `cmpha doctor` and `cmpha check` show it. For a window of maintenance, `cmpha ha disarm --host` needs no config change.'),
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

/** Each device type's keys get its name as a prefix in the flat declaration, so two types may use the same property name. */
const deviceDecls: Readonly<Record<string, Decl>> = Object.fromEntries(
  FENCE_DEVICE_TYPES.flatMap((t) => Object.entries(t.keys as Decls).map(([k, v]) => [`${t.name}.${k}`, v])),
);

const hostDecls = { ...perHostKeys, ...commonHostKeys, ...deviceDecls };

type Flat = Typed<typeof perHostKeys> & Typed<typeof commonHostKeys> & Record<string, unknown>;
/** A host's section: its own keys, and each device type's keys under the type's name (`host.ipmi.cipherSuite`). */
export type RawHostSection = Typed<typeof perHostKeys> & Typed<typeof commonHostKeys> & DeviceKeysOf;

function nest(flat: Flat): RawHostSection {
  const { own, rest } = split(flat, { ...perHostKeys, ...commonHostKeys });
  const groups: Record<string, Record<string, unknown>> = Object.fromEntries(FENCE_DEVICE_TYPES.map((t) => [t.name, {}]));
  for (const [k, v] of Object.entries(rest)) {
    const [group, prop] = k.split('.') as [string, string];
    groups[group]![prop] = v;
  }
  return { ...own, ...groups } as unknown as RawHostSection;
}

export const hostSectionDecl = defineSection(
  'host:NAME',
  'One section per compute host (NAME = the nova-compute service host). A host without fencing is never evacuated. Keys shared by many hosts go in [host_defaults] or in pattern sections such as [host:compute-*] (shell wildcards * and ?); a host takes, lowest first: [host_defaults], each matching pattern section in file order, its own section. Pattern sections do not declare hosts; mgmt_ip, storage_ip(s), tunnel_ip and address are per host only.',
  hostDecls,
  { finish: (flat) => nest(flat as Flat) },
);

/** The strict INI shape of `[host:NAME]`. */
export const hostSection = hostSectionDecl.object;

/** The INI keys that may be shared by [host_defaults] and `[host:PATTERN]` sections. */
export const sharedHostDecls = { ...commonHostKeys, ...deviceDecls };

export const hostDefaultsSection = defineSection(
  'host_defaults',
  'Defaults for every [host:NAME] section (driver, BMC user, password file, driver options), so a fleet is one short section per host. A pattern section [host:compute-*] takes the same keys for the hosts it matches.',
  sharedHostDecls,
);
