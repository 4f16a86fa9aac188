import { SIM_VOLUME_POOL, volumeImageName } from './cinder.js';
import type { SimHost, SimServer } from './types.js';
import type { World } from './world.js';

/** ceph-facts: a client's watch lapses 25-30 s after its last ping (osd_client_watch_timeout 30 s). */
const WATCH_TIMEOUT_MS = 30_000;
const POOL = 'vms';

/** The address a simulated host's Ceph clients use: its management address moved to 198.19.0.0/17. */
export function storageIpFor(host: Pick<SimHost, 'mgmtIp'>): string {
  const [, , c, d] = host.mgmtIp.split('.').map(Number);
  return `198.19.${c! % 128}.${d}`;
}

/**
 * A Ceph cluster as the storage fence sees it, answering the same operations and shapes as cmpha's
 * python3-rados helper (src/fencing/ceph/helper-script.ts), held to ceph-facts: every server has its root disk
 * `vms/<uuid>_disk`, watched by its host's one librados client (`IP:0/nonce`, a new nonce per boot) while the
 * host runs, and for 30 s after it died or hung; a whole-IP blocklist entry drops the watch at once, and a
 * client that was blocklisted never watches again until its host reboots. An image-backed server's root disk
 * is `vms/<uuid>_disk`; each attached rbd volume is `volumes/volume-<name_id>` (as Cinder's connection_info
 * names it), watched by the same client. Simplified: one client per host, the old host's watch does not follow
 * a server that moved.
 */
export class SimCeph {
  private epoch = 10;
  /** Entry (`IP:0/0`, `cidr:IP:0/32`) → expiry in world time. */
  private readonly entries = new Map<string, number>();
  /** Clients (`host@nonce`) that were blocklisted: dead for good. */
  private readonly deadClients = new Set<string>();

  constructor(private readonly world: World) {}

  private nonce(h: SimHost): number {
    return Math.floor(h.poweredOnAt) % 4_294_967_296;
  }

  private listed(ip: string, now: number): boolean {
    for (const [entry, until] of [...this.entries]) {
      if (until <= now) { this.entries.delete(entry); this.epoch++; continue; }
      if (entry === `${ip}:0/0` || entry === `cidr:${ip}:0/32`) return true;
    }
    return false;
  }

  /** The host's client address while it holds a watch, else null. */
  private watcher(h: SimHost, now: number): string | null {
    const ip = storageIpFor(h);
    if (h.power !== 'on' || this.deadClients.has(`${h.name}@${this.nonce(h)}`) || this.listed(ip, now)) return null;
    const running = !h.hung;
    // A librados client pings its watches every 5 s, whatever Nova's report_interval: a hung one last pinged when it hung.
    const lastPing = running ? now : (h.hungAt ?? h.hbLast ?? now);
    return now - lastPing < WATCH_TIMEOUT_MS ? `${ip}:0/${this.nonce(h)}` : null;
  }

  /** Every image of the simulated cluster (`pool/name`) and the server that has it open. */
  private images(): Map<string, SimServer> {
    const out = new Map<string, SimServer>();
    for (const s of this.world.serverList) {
      if (s.imageId !== '') out.set(`${POOL}/${s.id}_disk`, s);
      for (const v of s.volumes ?? []) if (v.driver === 'rbd') out.set(`${SIM_VOLUME_POOL}/${volumeImageName(v)}`, s);
    }
    return out;
  }

  /** Answers one helper request: `{ops: [...]}` → `{results: [...]}`. */
  handle(body: unknown): unknown {
    const ops = (body as { ops?: unknown })?.ops;
    if (!Array.isArray(ops)) return { error: { stage: 'connect', errno: 22, message: 'request has no ops' } };
    const now = this.world.now();
    return { results: ops.map((op) => this.run(op as Record<string, unknown>, now)) };
  }

  private run(op: Record<string, unknown>, now: number): unknown {
    switch (op.op) {
      case 'self':
        return { address: '127.0.0.1:0/1' };
      case 'list': {
        if (op.pool !== POOL && op.pool !== SIM_VOLUME_POOL) return { pool: op.pool, errno: 2, error: `[errno 2] RADOS object not found (error opening pool '${String(op.pool)}')` };
        const prefix = `${String(op.pool)}/`;
        return { pool: op.pool, names: [...this.images().keys()].filter((i) => i.startsWith(prefix)).map((i) => i.slice(prefix.length)) };
      }
      case 'watchers': {
        const byImage = this.images();
        return {
          images: (op.images as string[]).map((image) => {
            const s = byImage.get(image);
            if (!s) return { image, missing: true };
            const h = s.host ? this.world.host(s.host) : undefined;
            const addr = h && s.vmState === 'active' ? this.watcher(h, now) : null;
            return { image, watchers: addr ? [{ address: addr, client: 4100 + (h?.index ?? 0), cookie: 140434961611344 + (s.index ?? 0) }] : [] };
          }),
        };
      }
      case 'blocklist': {
        const addr = String(op.addr);
        const m = /^([\d.]+):0\/0$/.exec(addr) ?? (op.range ? /^([\d.]+)\/32$/.exec(addr) : null);
        if (!m) return { ret: -22, status: `invalid blocklist address ${addr}` };
        const entry = op.range ? `cidr:${m[1]}:0/32` : addr;
        if (op.action === 'add') {
          const expire = typeof op.expire === 'number' ? op.expire : 3600;
          if (expire < 0) return { ret: -22, status: 'expire must be >= 0' };
          this.entries.set(entry, now + expire * 1000);
          for (const h of this.world.hosts.values()) if (storageIpFor(h) === m[1] && h.power === 'on') this.deadClients.add(`${h.name}@${this.nonce(h)}`);
          this.epoch++;
          return { ret: 0, status: `blocklisting ${entry} until ${new Date(now + expire * 1000).toISOString()} (${expire} sec)` };
        }
        if (op.action === 'rm') {
          if (!this.entries.delete(entry)) return { ret: 0, status: `${entry} isn't blocklisted` };
          this.epoch++;
          return { ret: 0, status: `un-blocklisting ${entry}` };
        }
        return { ret: -22, status: `unknown blocklist op ${String(op.action)}` };
      }
      case 'refresh': {
        // As the helper: the other whole-IP form first, then the listed one removed (a re-add keeps its expiry).
        const commands: unknown[] = [];
        const bl = (action: 'add' | 'rm', ip: string, range: boolean) => {
          const r = this.run({ op: 'blocklist', action, addr: range ? `${ip}/32` : `${ip}:0/0`, range, expire: op.expire }, now) as { ret: number };
          commands.push({ action, addr: range ? `${ip}/32` : `${ip}:0/0`, range, ...r });
          return r.ret === 0;
        };
        for (const ip of op.ips as string[]) {
          this.listed('', now);
          const whole = this.entries.has(`${ip}:0/0`);
          const range = this.entries.has(`cidr:${ip}:0/32`);
          if (!whole && !range) bl('add', ip, false);
          else if (whole && !range) { if (bl('add', ip, true)) bl('rm', ip, false); }
          else if (range && !whole) { if (bl('add', ip, false)) bl('rm', ip, true); }
          else {
            const olderWhole = this.entries.get(`${ip}:0/0`)! <= this.entries.get(`cidr:${ip}:0/32`)!;
            if (bl('rm', ip, !olderWhole)) bl('add', ip, !olderWhole);
          }
        }
        return { ret: 0, commands };
      }
      case 'osd_dump': {
        this.listed('', now);
        const blocklist: Record<string, string> = {};
        const ranges: Record<string, string> = {};
        for (const [entry, until] of this.entries) (entry.startsWith('cidr:') ? ranges : blocklist)[entry] = new Date(until).toISOString();
        return { ret: 0, epoch: this.epoch, blocklist, range_blocklist: ranges };
      }
      default:
        return { ret: -22, status: `unknown op ${String(op.op)}` };
    }
  }
}
