// The OpenStack lab as the tests see it: credentials written by lab-up.sh, and its hosts' power, agents and
// links driven through lab-host.sh (the same script the BMC's power hook runs).
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OsRest, type Credentials } from './os-rest.js';

export const LAB_SRC = path.dirname(fileURLToPath(import.meta.url));
export const LAB_DIR = process.env.CMPHA_LAB_DIR ?? '/var/lib/cmpha-lab';
export const LAB_HOSTS = ['compute1', 'compute2', 'spare1'] as const;
export type LabHost = (typeof LAB_HOSTS)[number];
export const SPARE: LabHost = 'spare1';

export interface LabInfo {
  readonly dir: string;
  readonly admin: Credentials;
  readonly cmphaConf: string;
  readonly bmcPassword: string;
  readonly bmcPort: Readonly<Record<LabHost, number>>;
  readonly mgmtIp: Readonly<Record<LabHost, string>>;
  readonly reportInterval: number;
  readonly serviceDownTime: number;
}

function envFile(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** Reads what lab-up.sh wrote; a clear error when the lab is not up. */
export function readLab(dir = LAB_DIR): LabInfo {
  const openrc = path.join(dir, 'etc/openrc');
  if (!existsSync(openrc)) throw new Error(`no OpenStack lab in ${dir} (missing ${openrc}): run test/e2e/openstack/lab-up.sh first`);
  const rc = envFile(openrc);
  const need = (k: string) => {
    const v = rc[k];
    if (!v) throw new Error(`${openrc}: ${k} is missing`);
    return v;
  };
  const last = existsSync(path.join(dir, 'state/last-up.env')) ? envFile(path.join(dir, 'state/last-up.env')) : {};
  return {
    dir,
    admin: {
      authUrl: need('OS_AUTH_URL'), username: need('OS_USERNAME'), password: need('OS_PASSWORD'), projectName: need('OS_PROJECT_NAME'),
      userDomainName: need('OS_USER_DOMAIN_NAME'), projectDomainName: need('OS_PROJECT_DOMAIN_NAME'),
    },
    cmphaConf: path.join(dir, 'etc/cmpha.conf'),
    bmcPassword: readFileSync(path.join(dir, 'etc/bmc-password'), 'utf8').trim(),
    bmcPort: { compute1: 16231, compute2: 16232, spare1: 16233 },
    mgmtIp: { compute1: '198.19.128.11', compute2: '198.19.128.12', spare1: '198.19.128.13' },
    reportInterval: Number(last.report_interval ?? 10),
    serviceDownTime: Number(last.service_down_time ?? 60),
  };
}

export function run(file: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, [...args], { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** lab-host.sh ACTION HOST...; throws with its stderr when it fails. */
export async function labHost(action: string, ...args: string[]): Promise<string> {
  const r = await run(path.join(LAB_SRC, 'lab-host.sh'), [action, ...args]);
  if (r.code !== 0) throw new Error(`lab-host.sh ${action} ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout.trim();
}

/** ipmitool against a lab BMC, exactly as an operator would type it (password through the environment). */
export async function ipmi(lab: LabInfo, host: LabHost, ...args: string[]): Promise<string> {
  const r = await run('ipmitool', ['-I', 'lanplus', '-C', '3', '-H', '127.0.0.1', '-p', String(lab.bmcPort[host]), '-U', 'admin', '-E', '-N', '1', '-R', '2', ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', IPMI_PASSWORD: lab.bmcPassword },
  });
  if (r.code !== 0) throw new Error(`ipmitool ${args.join(' ')} on ${host}'s BMC failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** Power-off, shutdown or reset requests the host's BMC received since `since` (epoch ms), from its call log. */
export function powerOffRequests(lab: LabInfo, host: LabHost, since: number): number {
  return readFileSync(path.join(lab.dir, `hosts/${host}/bmc-calls.log`), 'utf8').split('\n').filter((l) => {
    const [t, ...rest] = l.split(' ');
    return Number(t) * 1000 >= since && /^set (power 0|shutdown|reset)/.test(rest.join(' '));
  }).length;
}

/** fping once; true when the address answered. */
export async function answers(ip: string): Promise<boolean> {
  const r = await run('fping', ['-c', '1', '-t', '300', '-q', ip]);
  return r.code === 0;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined | null | false>, everyMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== null && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? `; last error: ${String(last)}` : ''}`);
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------- Nova through plain REST

export interface NovaService {
  id: string;
  host: string;
  binary: string;
  state: 'up' | 'down';
  status: 'enabled' | 'disabled';
  forced_down: boolean;
  disabled_reason: string | null;
  updated_at: string | null;
}

export interface NovaServer {
  id: string;
  name: string;
  status: string;
  'OS-EXT-SRV-ATTR:host': string | null;
  'OS-EXT-STS:task_state': string | null;
  'OS-EXT-STS:vm_state': string | null;
  addresses: Record<string, { addr: string; version: number }[]>;
  fault?: { message: string };
}

export interface NovaMigration {
  id: number;
  uuid?: string;
  instance_uuid: string;
  migration_type: string;
  status: string;
  source_compute: string | null;
  dest_compute: string | null;
  created_at: string;
  updated_at: string | null;
}

export class LabNova {
  constructor(readonly rest: OsRest) {}

  static async connect(lab: LabInfo): Promise<LabNova> {
    const rest = new OsRest(lab.admin);
    await rest.authenticate();
    return new LabNova(rest);
  }

  async services(): Promise<NovaService[]> {
    return (await this.rest.novaOk<{ services: NovaService[] }>('GET', '/os-services?binary=nova-compute')).services;
  }

  async service(host: string): Promise<NovaService> {
    const s = (await this.services()).find((x) => x.host === host);
    if (!s) throw new Error(`no nova-compute service for ${host}`);
    return s;
  }

  updateService(host: string, body: Record<string, unknown>) {
    return this.service(host).then((s) => this.rest.nova<{ service: NovaService }>('PUT', `/os-services/${s.id}`, body, '2.53'));
  }

  async server(id: string): Promise<NovaServer | null> {
    const r = await this.rest.nova<{ server: NovaServer }>('GET', `/servers/${id}`, undefined, '2.53');
    if (r.status === 404) return null;
    if (r.status !== 200) throw new Error(`GET /servers/${id} → ${r.status} ${r.text.slice(0, 300)}`);
    return r.body.server;
  }

  async serversOn(host: string): Promise<NovaServer[]> {
    return (await this.rest.novaOk<{ servers: NovaServer[] }>('GET', `/servers/detail?all_tenants=1&host=${encodeURIComponent(host)}`)).servers;
  }

  async allServers(): Promise<NovaServer[]> {
    return (await this.rest.novaOk<{ servers: NovaServer[] }>('GET', '/servers/detail?all_tenants=1')).servers;
  }

  async evacuations(instanceId?: string): Promise<NovaMigration[]> {
    const q = instanceId ? `&instance_uuid=${instanceId}` : '';
    return (await this.rest.novaOk<{ migrations: NovaMigration[] }>('GET', `/os-migrations?migration_type=evacuation${q}`, undefined, '2.59')).migrations;
  }

  evacuate(id: string, body: Record<string, unknown>, microversion = '2.53') {
    return this.rest.nova('POST', `/servers/${id}/action`, { evacuate: body }, microversion);
  }

  /** Boots a server on `host` (admin's az:host form), a member of server group `group` if given, and waits until Nova says ACTIVE. */
  async boot(name: string, host: string, opts: { group?: string } = {}): Promise<NovaServer> {
    const [image, flavor, network] = await Promise.all([
      this.rest.call<{ images: { id: string; name: string }[] }>('image', 'GET', '/v2/images?name=lab-image'),
      this.rest.novaOk<{ flavors: { id: string; name: string }[] }>('GET', '/flavors'),
      this.rest.call<{ networks: { id: string }[] }>('network', 'GET', '/v2.0/networks?name=lab-net'),
    ]);
    const imageId = image.body.images[0]?.id;
    const flavorId = flavor.flavors.find((f) => f.name === 'lab.tiny')?.id;
    const netId = network.body.networks[0]?.id;
    if (!imageId || !flavorId || !netId) throw new Error('the lab has no lab-image, lab.tiny or lab-net: run lab-up.sh');
    const created = await this.rest.novaOk<{ server: { id: string } }>('POST', '/servers', {
      server: { name, imageRef: imageId, flavorRef: flavorId, networks: [{ uuid: netId }], availability_zone: `nova:${host}` },
      ...(opts.group ? { 'os:scheduler_hints': { group: opts.group } } : {}),
    });
    const id = created.server.id;
    return until(`server ${name} ACTIVE on ${host}`, 180_000, async () => {
      const s = await this.server(id);
      if (s?.status === 'ERROR') throw new Error(`server ${name} went to ERROR: ${s.fault?.message ?? '(no fault)'}`);
      return s?.status === 'ACTIVE' ? s : undefined;
    }, 1000);
  }

  /** Creates a server group (2.64: one `policy`); resolves with its id. */
  async createGroup(name: string, policy: 'affinity' | 'anti-affinity' | 'soft-affinity' | 'soft-anti-affinity'): Promise<string> {
    return (await this.rest.novaOk<{ server_group: { id: string } }>('POST', '/os-server-groups', { server_group: { name, policy } }, '2.64')).server_group.id;
  }

  async groups(): Promise<Array<{ id: string; name: string; policy: string; members: string[] }>> {
    return (await this.rest.novaOk<{ server_groups: Array<{ id: string; name: string; policy: string; members: string[] }> }>('GET', '/os-server-groups?all_projects=true', undefined, '2.64')).server_groups;
  }

  async deleteServer(id: string): Promise<void> {
    const r = await this.rest.nova('DELETE', `/servers/${id}`);
    if (r.status !== 204 && r.status !== 404) throw new Error(`DELETE /servers/${id} → ${r.status} ${r.text}`);
  }
}

export function fixedIps(server: NovaServer): string[] {
  return Object.values(server.addresses).flat().filter((a) => a.version === 4).map((a) => a.addr);
}

/**
 * Puts the lab back to its starting point, the way an operator would: every host powered on, evacuated hosts
 * cleaned up by their own nova-compute before forced_down is cleared, compute1/compute2 enabled, spare1 a
 * disabled spare, no servers and no server groups.
 */
export async function resetLab(nova: LabNova): Promise<void> {
  for (const h of LAB_HOSTS) {
    if ((await labHost('power-status', h)) === 'off') await labHost('power-on', h);
    await labHost('compute-start', h);
  }
  for (const s of await nova.allServers()) await nova.deleteServer(s.id);
  await until('every server deleted', 120_000, async () => (await nova.allServers()).length === 0, 1000);
  for (const g of await nova.groups()) {
    const r = await nova.rest.nova('DELETE', `/os-server-groups/${g.id}`);
    if (r.status !== 204 && r.status !== 404) throw new Error(`DELETE /os-server-groups/${g.id} → ${r.status} ${r.text}`);
  }
  for (const h of LAB_HOSTS) {
    const svc = await nova.service(h);
    if (svc.forced_down) {
      await until(`${h}'s evacuation migrations completed`, 120_000, async () =>
        (await nova.evacuations()).every((m) => m.source_compute !== h || m.status !== 'done'), 1000);
      const r = await nova.updateService(h, { forced_down: false });
      if (r.status !== 200) throw new Error(`forced_down false on ${h}: ${r.status} ${r.text}`);
    }
  }
  await until('every nova-compute up', 180_000, async () => (await nova.services()).every((s) => s.state === 'up'), 1000);
  for (const h of LAB_HOSTS) {
    const svc = await nova.service(h);
    const want = h === SPARE ? { status: 'disabled', disabled_reason: 'down_prepare lab spare' } : { status: 'enabled' };
    if (svc.status !== want.status || (h === SPARE && svc.disabled_reason !== want.disabled_reason)) {
      const r = await nova.updateService(h, want);
      if (r.status !== 200) throw new Error(`setting ${h} ${want.status}: ${r.status} ${r.text}`);
    }
  }
}
