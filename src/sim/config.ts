import type { World } from './world.js';

export interface SimUrls {
  /** Keystone v3, e.g. http://127.0.0.1:PORT/identity/v3 */
  readonly authUrl: string;
  /** Base of the /sim control API, e.g. http://127.0.0.1:PORT */
  readonly controlUrl: string;
  /** Where Redfish listens (the same loopback server). */
  readonly redfishAddress: string;
  readonly redfishPort: number;
}

/**
 * A ready cmpha.conf for this world: cloud credentials, the sim probe, the spare reason and one [host:NAME]
 * section per host (its management address and its BMC). The only place the simulator writes cmpha's config.
 */
export function renderSimConfig(world: World, urls: SimUrls): string {
  const admin = world.users.find((u) => u.name === 'admin');
  if (!admin) throw new Error('the world has no admin user');
  const lines: string[] = [
    '# cmpha.conf for a simulated cloud (written by `cmpha sim`)',
    '',
    '[cloud]',
    ...(world.settings.cloud === 'cloudpods' ? ['type = cloudpods'] : []),
    `auth_url = ${urls.authUrl}`,
    `username = ${admin.name}`,
    `password = ${admin.password}`,
    'user_domain_name = Default',
    'project_name = admin',
    'project_domain_name = Default',
    'region_name = RegionOne',
    'interface = public',
    '',
    '[detector]',
    'probe = sim',
    `sim_url = ${urls.controlUrl}`,
    'instance_networks = provider',
    '',
    '[evacuation]',
    'spare_reason_prefix = down_prepare',
    // The simulated worlds' scenarios were written for this (SHUTOFF servers stay); the default also moves them.
    'states = ACTIVE,ERROR',
  ];
  for (const h of world.hostList) {
    lines.push(
      '',
      `[host:${h.name}]`,
      `mgmt_ip = ${h.mgmtIp}`,
      `storage_ip = ${h.storageIp}`,
      'driver = redfish',
      `address = ${urls.redfishAddress}`,
      `port = ${urls.redfishPort}`,
      'redfish_scheme = http',
      `redfish_system = ${h.name}`,
      `username = ${h.bmc.username}`,
      `password = ${h.bmc.password}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
