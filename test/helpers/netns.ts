import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const RANGE = '198.18.0.0/15';
const LOCK_DIR = '/run/cmpha-test-netlab';

async function ip(args: string[], input?: string): Promise<void> {
  if (input === undefined) {
    await exec('ip', args);
    return;
  }
  // `ip -batch -` reads commands from stdin: hundreds of addresses in one process.
  await new Promise<void>((resolve, reject) => {
    const child = execFile('ip', [...args, '-batch', '-'], (err, _out, stderr) => {
      if (err) reject(new Error(`ip ${args.join(' ')} -batch failed: ${stderr || err.message}`));
      else resolve();
    });
    child.stdin!.end(input);
  });
}

/** Makes addresses without a namespace fail locally ("No route to host") instead of leaving the machine. */
export async function ensureUnreachableRoute(): Promise<void> {
  const { stdout } = await exec('ip', ['route', 'show', 'type', 'unreachable', RANGE]);
  if (!stdout.includes('198.18.0.0/15')) {
    try {
      await exec('ip', ['route', 'add', 'unreachable', RANGE, 'metric', '9999']);
    } catch (err) {
      // Another test may have added it at the same moment.
      const again = await exec('ip', ['route', 'show', 'type', 'unreachable', RANGE]);
      if (!again.stdout.includes('198.18.0.0/15')) throw err;
    }
  }
}

export interface LabHost {
  readonly label: string;
  /** Namespace name, unique per lab. */
  readonly ns: string;
  readonly ips: readonly string[];
}

/**
 * Network namespaces standing in for hosts: each gets one veth into a bridge in the root namespace and
 * addresses from its own /24 of 198.19.128.0-198.19.239.255 (claimed with a lock file so concurrent labs and
 * the simulator's 198.18.x worlds never overlap). Taking a host's link down makes it silent to fping from the
 * root namespace. Call `destroy()` in afterAll: it removes the namespaces, the bridge and the claim.
 */
export class NetLab {
  private readonly hosts = new Map<string, LabHost & { veth: string }>();
  private nextHost = 10;
  private destroyed = false;

  private constructor(
    readonly id: string,
    /** First three octets, e.g. "198.19.140". */
    readonly subnet: string,
    private readonly lockFile: string,
  ) {}

  get bridge(): string {
    return `cl${this.id}`;
  }

  /** The root namespace's address on the lab bridge. */
  get gateway(): string {
    return `${this.subnet}.254`;
  }

  static async create(): Promise<NetLab> {
    await ensureUnreachableRoute();
    mkdirSync(LOCK_DIR, { recursive: true });
    const id = randomBytes(3).toString('hex');
    const start = 128 + Math.floor(Math.random() * 112);
    for (let i = 0; i < 112; i++) {
      const octet = 128 + ((start - 128 + i) % 112);
      const lock = `${LOCK_DIR}/198.19.${octet}`;
      try {
        writeFileSync(lock, String(process.pid), { flag: 'wx' });
      } catch {
        continue;
      }
      const lab = new NetLab(id, `198.19.${octet}`, lock);
      try {
        await ip([], [`link add ${lab.bridge} type bridge`, `addr add ${lab.gateway}/32 dev ${lab.bridge}`, `link set ${lab.bridge} up`].join('\n'));
      } catch (err) {
        rmSync(lock, { force: true });
        throw err;
      }
      return lab;
    }
    throw new Error('no free /24 in 198.19.128.0/17 for a test lab (stale locks in /run/cmpha-test-netlab?)');
  }

  /** A namespace with `count` addresses, all on its one link, reachable from the root namespace. */
  async addHost(label: string, count = 1): Promise<LabHost> {
    if (this.nextHost + count > 250) throw new Error(`lab ${this.subnet}.0/24 has no room for ${count} more addresses`);
    const index = this.hosts.size;
    const ns = `cmpha-t${this.id}-${index}`;
    const veth = `l${this.id}${index}`;
    const ips = Array.from({ length: count }, (_, i) => `${this.subnet}.${this.nextHost + i}`);
    this.nextHost += count;
    await ip([], [
      `netns add ${ns}`,
      `link add ${veth} type veth peer name t${this.id}${index} netns ${ns}`,
      `link set ${veth} master ${this.bridge}`,
      `link set ${veth} up`,
      ...ips.map((a) => `route add ${a}/32 dev ${this.bridge} src ${this.gateway}`),
    ].join('\n'));
    await ip(['-n', ns], [
      `link set t${this.id}${index} name eth0`,
      'link set lo up',
      'link set eth0 up',
      ...ips.map((a) => `addr add ${a}/32 dev eth0`),
      'route add default dev eth0',
    ].join('\n'));
    const host = { label, ns, ips, veth };
    this.hosts.set(label, host);
    return host;
  }

  /** "Power off" (down) or back on (up): the namespace's link, as a dead host's NIC. */
  async setLink(label: string, state: 'up' | 'down'): Promise<void> {
    const h = this.hosts.get(label);
    if (!h) throw new Error(`lab has no host ${label}`);
    const lines = [`link set eth0 ${state}`];
    if (state === 'up') lines.push('route replace default dev eth0');
    await ip(['-n', h.ns], lines.join('\n'));
    // A stale neighbour entry would make the first packets after "up" vanish.
    await ip([], h.ips.map((a) => `neigh flush to ${a}`).join('\n')).catch(() => undefined);
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    const lines = [...this.hosts.values()].map((h) => `netns del ${h.ns}`);
    lines.push(`link del ${this.bridge}`);
    // Deleting the bridge takes its routes with it; -force keeps going past anything already gone.
    await ip(['-force'], lines.join('\n')).catch(() => undefined);
    rmSync(this.lockFile, { force: true });
  }
}
