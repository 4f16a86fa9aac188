import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CmphaError } from '../shared/errors.js';
import { silentLogger, type Logger } from '../shared/logger.js';
import { runCommand } from '../shared/run-command.js';
import { addressAt } from './build-world.js';
import { REACHABLE_NETWORKS, type World } from './world.js';
import type { SimHost } from './types.js';

/** Namespaces are real kernel objects: keep their number bounded. */
export const MAX_NETNS_HOSTS = 64;
const SIM_RANGE = '198.18.0.0/15';

interface NsState {
  linkUp: boolean;
  addrs: Set<string>;
}

/**
 * Puts the world on the wire: one network namespace per host holding its management address and its
 * servers' provider addresses, joined to a bridge in the root namespace by a veth pair, so real fping sees
 * exactly what the world says. Power-off and hang take the host's link down, a lost management link removes
 * only the management address, and a moved server's address moves to its new host's namespace.
 *
 * The root namespace routes each address as a /32 via its host's own link address (one neighbour entry per
 * host, not per address: the kernel's neighbour table holds only about 1,024 entries).
 */
export class NetnsManager {
  readonly id: string;
  readonly bridge: string;
  readonly gateway: string;
  private readonly dir: string;
  private readonly state = new Map<string, NsState>();
  private readonly dirty = new Set<string>();
  /** address → host whose namespace the root namespace routes it to */
  private readonly routedTo = new Map<string, string>();
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly exitHook = () => this.cleanupSync();
  private readonly onHost = (h: SimHost) => this.markDirty(h.name);
  private readonly onServer = (s: { host: string | null }, from: string | null) => {
    if (from) this.markDirty(from);
    if (s.host) this.markDirty(s.host);
  };

  private constructor(
    private readonly world: World,
    private readonly log: Logger,
  ) {
    this.id = randomBytes(3).toString('hex');
    this.bridge = `cb${this.id}`;
    // the last usable address of the world's block answers for the root namespace
    this.gateway = addressAt(2 * 65536 - 2 - world.settings.ipBlock * 256);
    this.dir = mkdtempSync(path.join(tmpdir(), 'cmpha-netns-'));
  }

  /** Creates the namespaces for the world (root only, at most 64 hosts) and keeps them in step with it. */
  static async create(world: World, logger: Logger = silentLogger): Promise<NetnsManager> {
    if (process.getuid?.() !== 0) throw new CmphaError('sim_netns_not_root', '--netns needs root: it creates network namespaces, veth pairs and a bridge');
    if (world.hostList.length > MAX_NETNS_HOSTS) {
      throw new CmphaError('sim_netns_too_many_hosts', `--netns supports at most ${MAX_NETNS_HOSTS} hosts (this world has ${world.hostList.length}); use the sim probe for larger worlds`);
    }
    const m = new NetnsManager(world, logger.child({ netns: true }));
    process.once('exit', m.exitHook);
    try {
      await m.setup();
    } catch (err) {
      await m.close();
      throw err;
    }
    world.on('host', m.onHost);
    world.on('server', m.onServer);
    return m;
  }

  /** Names of what this simulator created, for GET /sim/state. */
  info(): { id: string; bridge: string; gateway: string; namespaces: Record<string, string> } {
    return {
      id: this.id, bridge: this.bridge, gateway: this.gateway,
      namespaces: Object.fromEntries(this.world.hostList.map((h) => [h.name, this.nsName(h)])),
    };
  }

  nsName(h: SimHost): string {
    return `cmpha-${this.id}-${h.index}`;
  }

  /** The host's link address: the root namespace's next hop for every address the host holds. */
  hop(h: SimHost): string {
    return addressAt(2 * 65536 - 2 - this.world.settings.ipBlock * 256 - h.index);
  }

  private vethRoot(h: SimHost): string {
    return `v${this.id}${h.index}`;
  }

  private vethTmp(h: SimHost): string {
    return `e${this.id}${h.index}`;
  }

  private async ip(args: string[], lines: string[], force = false): Promise<void> {
    if (lines.length === 0) return;
    const file = path.join(this.dir, `batch-${randomBytes(4).toString('hex')}`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    try {
      const r = await runCommand('ip', [...(force ? ['-force'] : []), ...args, '-batch', file], { timeoutMs: 30_000 });
      if (r.exitCode !== 0) {
        const msg = `ip ${args.join(' ')} -batch failed (${r.exitCode}): ${r.stderr.trim().slice(0, 500)}`;
        if (!force) throw new CmphaError('sim_netns_failed', msg);
        this.log.warn({ stderr: r.stderr }, msg);
      }
    } finally {
      rmSync(file, { force: true });
    }
  }

  private desired(h: SimHost): NsState {
    const addrs = new Set<string>();
    if (h.mgmtLink === 'up') addrs.add(h.mgmtIp);
    if (h.storageLink === 'up') addrs.add(h.storageIp);
    if (h.instanceLink === 'up' && !h.portBindingFails) {
      for (const id of h.servers) {
        const s = this.world.servers.get(id);
        if (!s || s.vmState !== 'active' || s.powerState !== 1 || s.guestSilent) continue;
        for (const a of s.addresses) if (REACHABLE_NETWORKS.has(a.network)) addrs.add(a.addr);
      }
    }
    // Dropped pings: the namespace keeps its link but holds no address that could answer.
    if (h.pingBlocked) addrs.clear();
    return { linkUp: h.power === 'on' && !h.hung, addrs };
  }

  /** Every reachable address that lives on this host when it answers: its management address and its servers'. */
  private homed(h: SimHost): string[] {
    const out = [h.mgmtIp, h.storageIp];
    for (const id of h.servers) {
      const s = this.world.servers.get(id);
      if (s) for (const a of s.addresses) if (REACHABLE_NETWORKS.has(a.network)) out.push(a.addr);
    }
    return out;
  }

  private routeLines(hosts: readonly SimHost[], verb: 'add' | 'replace'): string[] {
    const lines: string[] = [];
    for (const h of hosts) {
      for (const a of this.homed(h)) {
        if (this.routedTo.get(a) === h.name) continue;
        lines.push(`route ${verb} ${a}/32 via ${this.hop(h)} dev ${this.bridge} src ${this.gateway}`);
        this.routedTo.set(a, h.name);
      }
    }
    return lines;
  }

  /** Refuses to start when something on this machine already routes one of the world's addresses. */
  private async refuseRoutedAddresses(): Promise<void> {
    const table = await runCommand('ip', ['-4', '-o', 'route', 'show', 'table', 'all'], { timeoutMs: 10_000 });
    const prefixes: [number, number, string][] = [];
    for (const line of table.stdout.split('\n')) {
      const first = line.trim().split(/\s+/);
      const dst = first[0] === 'unreachable' || first[0] === 'local' || first[0] === 'broadcast' ? first[1] : first[0];
      if (!dst || dst === 'default' || dst === SIM_RANGE || first[0] === 'unreachable') continue;
      const [ip, bits] = dst.split('/');
      const n = ipToInt(ip ?? '');
      if (n === undefined) continue;
      const len = bits === undefined ? 32 : Number(bits);
      prefixes.push([n, len, line.trim()]);
    }
    const mine = [this.gateway, ...this.world.hostList.flatMap((h) => [this.hop(h), ...this.homed(h)])];
    for (const a of mine) {
      const n = ipToInt(a)!;
      const hit = prefixes.find(([net, len]) => len === 0 || (n >>> (32 - len)) === (net >>> (32 - len)));
      if (hit) {
        throw new CmphaError('sim_netns_address_in_use',
          `${a} of this world is already routed on this machine (${hit[2]}); pick another --ip-block`);
      }
    }
  }

  private async setup(): Promise<void> {
    const route = await runCommand('ip', ['route', 'show', 'type', 'unreachable', SIM_RANGE], { timeoutMs: 10_000 });
    if (!route.stdout.includes('198.18.0.0/15')) {
      await runCommand('ip', ['route', 'add', 'unreachable', SIM_RANGE, 'metric', '9999'], { timeoutMs: 10_000 });
    }
    await this.refuseRoutedAddresses();
    const root: string[] = [
      `link add ${this.bridge} type bridge`,
      `addr add ${this.gateway}/32 dev ${this.bridge}`,
      `link set ${this.bridge} up`,
    ];
    for (const h of this.world.hostList) {
      root.push(
        `netns add ${this.nsName(h)}`,
        `link add ${this.vethRoot(h)} type veth peer name ${this.vethTmp(h)} netns ${this.nsName(h)}`,
        `link set ${this.vethRoot(h)} master ${this.bridge}`,
        `link set ${this.vethRoot(h)} up`,
      );
    }
    await this.ip([], root);
    for (const h of this.world.hostList) {
      const want = this.desired(h);
      const lines = [
        `link set ${this.vethTmp(h)} name eth0`, 'link set lo up', 'link set eth0 up', `addr add ${this.hop(h)}/32 dev eth0`,
        'route add default dev eth0',
      ];
      for (const a of want.addrs) lines.push(`addr add ${a}/32 dev eth0`);
      if (!want.linkUp) lines.push('link set eth0 down');
      await this.ip(['-n', this.nsName(h)], lines);
      this.state.set(h.name, want);
    }
    // each host's link address on the bridge, then every address via the link address of the host holding it
    const routes = this.world.hostList.map((h) => `route add ${this.hop(h)}/32 dev ${this.bridge} src ${this.gateway}`);
    routes.push(...this.routeLines(this.world.hostList, 'add'));
    try {
      await this.ip([], routes);
    } catch (err) {
      throw new CmphaError('sim_netns_address_in_use',
        `this world's addresses are already routed on this machine (another simulator with namespaces?); pick another --ip-block: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private markDirty(host: string): void {
    if (this.closed) return;
    this.dirty.add(host);
    this.chain = this.chain.then(() => this.reconcile()).catch((err: unknown) => this.log.error({ err }, 'namespace update failed'));
  }

  /** Resolves once the namespaces reflect every change made so far. */
  async flush(): Promise<void> {
    this.world.advance();
    await this.chain;
  }

  private async reconcile(): Promise<void> {
    if (this.closed) return;
    const hosts = [...this.dirty];
    this.dirty.clear();
    // removals first, everywhere, so an address is never on two hosts at once
    const plans: { h: SimHost; want: NsState; del: string[]; add: string[] }[] = [];
    for (const name of hosts) {
      const h = this.world.host(name);
      const have = this.state.get(name);
      if (!h || !have) continue;
      const want = this.desired(h);
      plans.push({ h, want, del: [...have.addrs].filter((a) => !want.addrs.has(a)), add: [...want.addrs].filter((a) => !have.addrs.has(a)) });
    }
    for (const p of plans) {
      const lines = p.del.map((a) => `addr del ${a}/32 dev eth0`);
      if (!p.want.linkUp && this.state.get(p.h.name)!.linkUp) lines.push('link set eth0 down');
      await this.ip(['-n', this.nsName(p.h)], lines, true);
    }
    for (const p of plans) {
      const lines = p.add.map((a) => `addr add ${a}/32 dev eth0`);
      if (p.want.linkUp && !this.state.get(p.h.name)!.linkUp) lines.push('link set eth0 up', 'route replace default dev eth0');
      await this.ip(['-n', this.nsName(p.h)], lines, true);
      this.state.set(p.h.name, p.want);
    }
    await this.ip([], this.routeLines(plans.map((p) => p.h), 'replace'), true);
  }

  /** Removes every namespace and the bridge (their veths and routes go with them). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.world.off('host', this.onHost);
    this.world.off('server', this.onServer);
    await this.chain.catch(() => undefined);
    const lines = this.world.hostList.map((h) => `netns del ${this.nsName(h)}`);
    lines.push(`link del ${this.bridge}`);
    await this.ip([], lines, true);
    process.off('exit', this.exitHook);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Last-resort cleanup when the process exits without close(). */
  cleanupSync(): void {
    if (this.closed) return;
    this.closed = true;
    for (const h of this.world.hostList) spawnSync('ip', ['netns', 'del', this.nsName(h)], { stdio: 'ignore' });
    spawnSync('ip', ['link', 'del', this.bridge], { stdio: 'ignore' });
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function ipToInt(text: string): number | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (!m) return undefined;
  return ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
}
