import { execFile } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ProcessGroup } from './processes.js';

const run = promisify(execFile);

/**
 * A libvirtd of the test's own: a session daemon run as `nobody` whose sockets, config and state are all under one
 * temporary directory, so it neither sees nor touches a system libvirtd. Guests are QEMU under TCG (no KVM here),
 * diskless, 32 MiB, booting nothing: only the QEMU process matters. Everything is stopped by pid.
 */
export interface TestLibvirt {
  /** The URI clients use (`qemu+unix:///session?socket=...`). */
  readonly uri: string;
  /** Starts a transient guest with this UUID and name; resolves with its QEMU pid once it runs. */
  startGuest(uuid: string, name: string): Promise<number>;
  /** Runs a virsh command against this daemon. */
  virsh(...args: string[]): Promise<void>;
  stop(): Promise<void>;
}

const NOBODY = 65534;

async function until<T>(what: string, read: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = read();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what} not seen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const readOr = (file: string): string | undefined => {
  try { return readFileSync(file, 'utf8').trim() || undefined; } catch { return undefined; }
};

export async function startLibvirt(): Promise<TestLibvirt> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cmpha-libvirt-'));
  chmodSync(dir, 0o755);
  const d = { home: path.join(dir, 'home'), run: path.join(dir, 'run'), config: path.join(dir, 'config'), cache: path.join(dir, 'cache') };
  for (const p of Object.values(d)) mkdirSync(p);
  mkdirSync(path.join(d.config, 'libvirt'));
  // QEMU's output to a file, so the daemon does not launch a virtlogd the test would have to find and stop.
  writeFileSync(path.join(d.config, 'libvirt', 'qemu.conf'), 'stdio_handler = "file"\n');
  for (const p of [dir, ...Object.values(d), path.join(d.config, 'libvirt'), path.join(d.config, 'libvirt', 'qemu.conf')]) chownSync(p, NOBODY, NOBODY);

  const group = new ProcessGroup();
  const daemon = group.start('libvirtd', ['--timeout', '0'], {
    uid: NOBODY, gid: NOBODY,
    env: { HOME: d.home, XDG_RUNTIME_DIR: d.run, XDG_CONFIG_HOME: d.config, XDG_CACHE_HOME: d.cache, PATH: '/usr/sbin:/usr/bin:/bin' },
  });
  let daemonErr = '';
  daemon.stderr?.on('data', (b: Buffer) => { daemonErr = (daemonErr + b.toString()).slice(-4000); });
  const socket = path.join(d.run, 'libvirt', 'libvirt-sock');
  const uri = `qemu+unix:///session?socket=${socket}`;
  const pidFile = (name: string) => path.join(d.run, 'libvirt', 'qemu', 'run', `${name}.pid`);
  const guests: number[] = [];
  const virsh = (...args: string[]) => run('virsh', ['-c', uri, ...args], { timeout: 60_000 });
  try {
    for (let i = 0; ; i++) {
      if (daemon.exitCode !== null || daemon.signalCode !== null) throw new Error(`libvirtd exited: ${daemonErr}`);
      try { await virsh('version'); break; } catch (err) { if (i > 300) throw err; await new Promise((r) => setTimeout(r, 100)); }
    }
  } catch (err) {
    await group.stopAll();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  return {
    uri,
    async startGuest(uuid, name) {
      const xml = path.join(dir, `${name}.xml`);
      writeFileSync(xml, [
        "<domain type='qemu'>", `  <name>${name}</name>`, `  <uuid>${uuid}</uuid>`, "  <memory unit='MiB'>32</memory>", '  <vcpu>1</vcpu>',
        "  <os><type arch='x86_64' machine='pc'>hvm</type></os>",
        "  <devices><emulator>/usr/bin/qemu-system-x86_64</emulator><video><model type='none'/></video><memballoon model='none'/></devices>",
        '</domain>', '',
      ].join('\n'));
      await virsh('create', xml);
      const pid = Number(await until(`QEMU pid of ${name}`, () => readOr(pidFile(name))));
      guests.push(pid);
      return pid;
    },
    async virsh(...args) {
      await virsh(...args);
    },
    async stop() {
      for (const pid of guests) {
        try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
      }
      await group.stopAll();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The config file of Debian's masakari-instancemonitor as an operator points it at cmpha: its host name, cmpha's
 * Masakari-compatible API with one of cmpha's write tokens (keystoneauth `admin_token`, kept in this 0600 file, never
 * in argv) and the test's libvirtd. Returns the config's path and the monitor's log file.
 */
export function writeInstanceMonitorConfig(dir: string, o: { readonly hostname: string; readonly apiPort: number; readonly token: string; readonly libvirtUri: string }): { conf: string; log: string } {
  const log = path.join(dir, 'instancemonitor.log');
  const conf = path.join(dir, 'masakarimonitors.conf');
  writeFileSync(conf, [
    '[DEFAULT]', `hostname = ${o.hostname}`, 'debug = true', `log_file = ${log}`,
    '[api]', 'auth_type = admin_token', `endpoint = http://127.0.0.1:${o.apiPort}/v1`, `token = ${o.token}`, 'region = RegionOne', 'api_interface = public',
    '[libvirt]', `connection_uri = ${o.libvirtUri}`,
    '[callback]', 'retry_max = 3', 'retry_interval = 1', '',
  ].join('\n'), { mode: 0o600 });
  return { conf, log };
}
