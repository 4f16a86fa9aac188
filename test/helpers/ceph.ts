import { execFile, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ProcessGroup, waitForLine } from './processes.js';

const exec = promisify(execFile);

/** The interpreter that has Debian's python3-rados/python3-rbd (a pyenv python on PATH does not). */
export const CEPH_PYTHON = '/usr/bin/python3';

/** The caps ceph-facts measured as the minimum for a controller: blocklist add/rm/ls and watcher reads. */
export const CONTROLLER_CAPS = { mon: 'allow r, allow command "osd blocklist"', osd: 'profile rbd-read-only pool=vms, profile rbd-read-only pool=volumes' } as const;
/** Every compute host's key: may open images (Nova's and Cinder's) read-write and let librbd break a dead owner's lock. */
export const COMPUTE_CAPS = { mon: 'profile rbd', osd: 'profile rbd pool=vms, profile rbd pool=volumes' } as const;

export interface CephUser {
  /** Without the `client.` prefix, as librados' `rados_id` wants it. */
  readonly id: string;
  readonly keyringPath: string;
  /** The base64 cephx key, so a test can look for it where it must never be. */
  readonly key: string;
}

export interface StartCephOptions {
  /**
   * The one address mon and OSD bind: a NetLab's gateway (its bridge address in 198.19.x) so network
   * namespaces reach the cluster, or 127.0.0.1 when only the root namespace talks to it.
   */
  readonly bindIp: string;
  /** Pools created with the rbd application; `vms` by default. */
  readonly pools?: readonly string[];
}

async function freeTcpPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const a = srv.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A one-node Ceph (Debian's ceph-mon + one memstore ceph-osd, no mgr: nothing cmpha or librbd does needs one)
 * in a temp dir with its own ceph.conf, keyrings and free ports, started as child processes and stopped by
 * pid. `startupMs` says what it cost. Pool size 1, msgr v1 only (client addresses look as in ceph-facts).
 */
export class CephCluster {
  private readonly procs = new ProcessGroup();
  private mon?: ChildProcess;
  private osd?: ChildProcess;
  private stopped = false;
  startupMs = 0;

  private constructor(
    readonly dir: string,
    readonly bindIp: string,
    readonly monPort: number,
    readonly fsid: string,
  ) {}

  /** `IP:PORT` of the mon, as a client's `mon_host`. */
  get monHost(): string {
    return `${this.bindIp}:${this.monPort}`;
  }

  get confPath(): string {
    return path.join(this.dir, 'ceph.conf');
  }

  get adminKeyring(): string {
    return path.join(this.dir, 'admin.keyring');
  }

  static async start(opts: StartCephOptions): Promise<CephCluster> {
    const started = Date.now();
    const dir = mkdtempSync(path.join(tmpdir(), 'cmpha-ceph-'));
    const monPort = await freeTcpPort(opts.bindIp);
    // The OSD takes four ports (public, cluster, two heartbeats) from this window.
    const portMin = 20000 + Math.floor(Math.random() * 40000);
    const cluster = new CephCluster(dir, opts.bindIp, monPort, randomUUID());
    try {
      await cluster.bootstrap(portMin, opts.pools ?? ['vms']);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    cluster.startupMs = Date.now() - started;
    return cluster;
  }

  private async bootstrap(portMin: number, pools: readonly string[]): Promise<void> {
    const d = this.dir;
    for (const sub of ['run', 'log', 'mon', 'osd/0']) mkdirSync(path.join(d, sub), { recursive: true });
    writeFileSync(this.confPath, [
      '[global]',
      `fsid = ${this.fsid}`,
      `mon_host = v1:${this.monHost}`,
      `public_addr = ${this.bindIp}`,
      `cluster_addr = ${this.bindIp}`,
      'ms_bind_msgr2 = false',
      `ms_bind_port_min = ${portMin}`,
      `ms_bind_port_max = ${portMin + 64}`,
      'auth_cluster_required = cephx',
      'auth_service_required = cephx',
      'auth_client_required = cephx',
      `keyring = ${this.adminKeyring}`,
      `run_dir = ${d}/run`,
      `admin_socket = ${d}/run/$name.asok`,
      `log_file = ${d}/log/$name.log`,
      `mon_data = ${d}/mon/$id`,
      `osd_data = ${d}/osd/$id`,
      'osd_objectstore = memstore',
      'memstore_device_bytes = 2147483648',
      'osd_pool_default_size = 1',
      'osd_pool_default_min_size = 1',
      'osd_pool_default_pg_num = 8',
      'osd_pool_default_pgp_num = 8',
      'mon_allow_pool_size_one = true',
      'mon_warn_on_pool_no_redundancy = false',
      'mon_data_avail_warn = 1',
      'osd_crush_chooseleaf_type = 0',
      'auth_allow_insecure_global_id_reclaim = false',
      // Small and quiet: this OSD serves a few test images on a shared 2-core machine.
      'osd_op_num_shards = 1',
      'osd_op_num_threads_per_shard = 1',
      'osd_memory_target = 268435456',
      'mon_osd_report_timeout = 60',
      '[osd]',
      `keyring = ${d}/osd/$id/keyring`,
      '',
    ].join('\n'));
    const monKeyring = path.join(d, 'mon.keyring');
    await exec('ceph-authtool', ['--create-keyring', monKeyring, '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *']);
    await exec('ceph-authtool', ['--create-keyring', this.adminKeyring, '--gen-key', '-n', 'client.admin',
      '--cap', 'mon', 'allow *', '--cap', 'osd', 'allow *', '--cap', 'mgr', 'allow *']);
    await exec('ceph-authtool', [monKeyring, '--import-keyring', this.adminKeyring]);
    const monmap = path.join(d, 'monmap');
    await exec('monmaptool', ['--create', '--addv', 'a', `[v1:${this.monHost}]`, '--fsid', this.fsid, monmap]);
    await exec('ceph-mon', ['-c', this.confPath, '--mkfs', '-i', 'a', '--monmap', monmap, '--keyring', monKeyring]);
    this.mon = this.procs.start('ceph-mon', ['-c', this.confPath, '-i', 'a', '-f']);
    this.watchExit(this.mon, 'ceph-mon');

    // The OSD: registered with its own key, then made (memstore: nothing on disk but its id files).
    const osdUuid = randomUUID();
    const { stdout: osdKey } = await exec('ceph-authtool', ['--gen-print-key']);
    writeFileSync(path.join(d, 'osd/0/keyring'), `[osd.0]\n\tkey = ${osdKey.trim()}\n`, { mode: 0o600 });
    const secretFile = path.join(d, 'osd0-secret.json');
    writeFileSync(secretFile, JSON.stringify({ cephx_secret: osdKey.trim() }), { mode: 0o600 });
    await this.ceph(['osd', 'new', osdUuid, '-i', secretFile], 30_000);
    rmSync(secretFile);
    for (const pool of pools) {
      await this.ceph(['osd', 'pool', 'create', pool, '8', '8']);
      await this.ceph(['osd', 'pool', 'application', 'enable', pool, 'rbd']);
    }
    await exec('ceph-osd', ['-c', this.confPath, '-i', '0', '--mkfs', '--osd-uuid', osdUuid]);
    this.osd = this.procs.start('ceph-osd', ['-c', this.confPath, '-i', '0', '-f']);
    this.watchExit(this.osd, 'ceph-osd');
    await this.waitUntil('the OSD to be up', async () => {
      const dump = JSON.parse(await this.ceph(['osd', 'dump', '-f', 'json'])) as { osds: { up: number }[] };
      return dump.osds.some((o) => o.up === 1);
    }, 60_000);
    // PGs peer a moment after the OSD is up and the first I/O waits on them (there is no mgr to report PG
    // states): one read per pool, here, so tests start on a cluster that answers at once.
    for (const pool of pools) {
      await this.waitUntil(`pool ${pool} to serve I/O`, async () => { await this.rbd(['ls', '-p', pool], 15_000); return true; }, 60_000);
    }
  }

  private watchExit(child: ChildProcess, name: string): void {
    child.once('exit', (code, signal) => {
      if (!this.stopped) process.stderr.write(`${name} of the test Ceph in ${this.dir} exited (${code ?? signal}); see ${this.dir}/log\n`);
    });
  }

  private async waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      try {
        if (await check()) return;
      } catch (err) {
        last = err;
      }
      if (Date.now() > deadline) {
        throw new Error(`test Ceph: gave up waiting for ${what} after ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** `ceph ARGS` as client.admin; returns stdout; throws with stderr on a non-zero exit. */
  async ceph(args: readonly string[], timeoutMs = 20_000): Promise<string> {
    const { stdout } = await exec('ceph', ['-c', this.confPath, '--connect-timeout', '15', ...args], { timeout: timeoutMs });
    return stdout;
  }

  async rbd(args: readonly string[], timeoutMs = 20_000): Promise<string> {
    const { stdout } = await exec('rbd', ['-c', this.confPath, ...args], { timeout: timeoutMs });
    return stdout;
  }

  /** A cephx user with these caps; its keyring is written to a 0600 file in the cluster's dir. */
  async createUser(id: string, caps: { readonly mon: string; readonly osd: string }): Promise<CephUser> {
    const keyringPath = path.join(this.dir, `client.${id}.keyring`);
    const out = await this.ceph(['auth', 'get-or-create', `client.${id}`, 'mon', caps.mon, 'osd', caps.osd]);
    writeFileSync(keyringPath, out, { mode: 0o600 });
    const key = /key\s*=\s*(\S+)/.exec(out)?.[1];
    if (!key) throw new Error(`ceph auth get-or-create client.${id} printed no key`);
    return { id, keyringPath, key };
  }

  async createImage(spec: string, sizeMiB = 16): Promise<void> {
    await this.rbd(['create', spec, '--size', `${sizeMiB}M`]);
  }

  /** Many images in one librados connection (one `rbd create` each would cost ~0.1 s of process start). */
  async createImages(pool: string, names: readonly string[], sizeMiB = 8): Promise<void> {
    const script = [
      'import rados, rbd, sys, json',
      'req = json.load(sys.stdin)',
      "r = rados.Rados(conffile=req['conf'], rados_id='admin')",
      'r.connect(timeout=15)',
      "io = r.open_ioctx(req['pool'])",
      "for n in req['names']: rbd.RBD().create(io, n, req['size'])",
      'io.close(); r.shutdown()',
    ].join('\n');
    await runPython(script, { conf: this.confPath, pool, names, size: sizeMiB * 1024 * 1024 });
  }

  /** `rbd status --format json` watchers' addresses of one image. */
  async watchers(spec: string): Promise<string[]> {
    const out = JSON.parse(await this.rbd(['status', spec, '--format', 'json'])) as { watchers: { address: string }[] };
    return out.watchers.map((w) => w.address);
  }

  /** The whole-IP and range entries of the osdmap (`ceph osd dump`), e.g. `198.19.140.10:0/0`, `cidr:198.19.140.10:0/32`. */
  async blocklist(): Promise<string[]> {
    const dump = JSON.parse(await this.ceph(['osd', 'dump', '-f', 'json'])) as { blocklist?: Record<string, string>; range_blocklist?: Record<string, string> };
    return [...Object.keys(dump.blocklist ?? {}), ...Object.keys(dump.range_blocklist ?? {})];
  }

  /** When a blocklist entry expires, as the osdmap says (undefined when it is not listed). */
  async blocklistUntil(entry: string): Promise<string | undefined> {
    const dump = JSON.parse(await this.ceph(['osd', 'dump', '-f', 'json'])) as { blocklist?: Record<string, string>; range_blocklist?: Record<string, string> };
    return dump.blocklist?.[entry] ?? dump.range_blocklist?.[entry];
  }

  /** A client ceph.conf with only what a compute host needs (mon address, keyring, no cache). */
  writeClientConf(name: string, user: CephUser): string {
    const file = path.join(this.dir, `${name}.conf`);
    writeFileSync(file, `[global]\nmon_host = v1:${this.monHost}\nkeyring = ${user.keyringPath}\nrbd_cache = false\nlog_file = /dev/null\n`);
    return file;
  }

  logTail(name: 'mon.a' | 'osd.0', lines = 40): string {
    try {
      return readFileSync(path.join(this.dir, 'log', `${name}.log`), 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.osd) await this.procs.stop(this.osd, 'SIGTERM', 5000);
    if (this.mon) await this.procs.stop(this.mon, 'SIGTERM', 5000);
    await this.procs.stopAll();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Runs a python3-rados script with a JSON request on stdin; resolves with stdout. */
export function runPython(script: string, request: unknown, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(CEPH_PYTHON, ['-c', script], { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`python3 failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
    child.stdin!.end(JSON.stringify(request));
  });
}

export interface WriteRecord {
  readonly n: number;
  readonly ok: boolean;
  readonly errno?: number;
  readonly at: number;
}

/**
 * A "VM": a librbd client in a network namespace (as qemu is, same library) that holds one image open
 * read-write and writes 4 KiB every `intervalMs`, printing one JSON line per write. Hang it with
 * `pause()` (SIGSTOP) and `resume()` it; stop it by pid.
 */
export class RbdWriter {
  readonly writes: WriteRecord[] = [];
  address?: string;
  private constructor(readonly child: ChildProcess, private readonly procs: ProcessGroup, readonly image: string) {}

  static async start(procs: ProcessGroup, opts: { ns: string; conf: string; user: CephUser; image: string; intervalMs?: number }): Promise<RbdWriter> {
    const child = procs.start('ip', ['netns', 'exec', opts.ns, CEPH_PYTHON, '-u', path.join(import.meta.dirname, 'rbd-writer.py'),
      opts.conf, opts.user.id, opts.image, String((opts.intervalMs ?? 500) / 1000)]);
    const w = new RbdWriter(child, procs, opts.image);
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const line of lines) {
        if (!line.trim()) continue;
        const e = JSON.parse(line) as { event: string; addr?: string; n?: number; ok?: boolean; errno?: number };
        if (e.event === 'open') w.address = e.addr;
        if (e.event === 'write') w.writes.push({ n: e.n!, ok: e.ok!, ...(e.errno !== undefined ? { errno: e.errno } : {}), at: Date.now() });
      }
    });
    await waitForLine(child, /"event": "write"/, 30_000);
    return w;
  }

  get pid(): number {
    return this.child.pid!;
  }

  pause(): void {
    process.kill(this.pid, 'SIGSTOP');
  }

  resume(): void {
    process.kill(this.pid, 'SIGCONT');
  }

  writesSince(t: number): WriteRecord[] {
    return this.writes.filter((x) => x.at >= t);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      try { process.kill(this.pid, 'SIGCONT'); } catch { /* already gone */ }
    }
    await this.procs.stop(this.child, 'SIGKILL');
  }
}
