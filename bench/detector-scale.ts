/**
 * One detector round at scale: 5,000 hosts × 20 servers in the simulator (its own process), the real Nova client
 * over loopback HTTP. The detector runs the built code (dist/) in a process of its own, one per case, so its peak
 * RSS (VmHWM, read from /proc) is cmpha's alone: not the simulator's, not this bench's, not the TypeScript loader's.
 * Cases: a prober that answers at once ("without probes"), then real fping against a network namespace holding the
 * 5,000 management addresses (and, second, the 5,000 storage addresses too).
 *
 *   npm run build && npx tsx bench/detector-scale.ts [--hosts 5000] [--per-host 20] [--rounds 10] [--dist DIR] [--node-options '...']
 *
 * The detector process gets the V8 options the shipped systemd unit sets (its Environment=NODE_OPTIONS=), as
 * `cmpha run` under the unit or in the image would; --node-options '' measures a bare `node`. --dist measures
 * another build (e.g. the previous commit's) against the same simulator. Root only for the fping part (it creates
 * one namespace, one veth pair and two routes, all removed at the end).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { runCommand } from '../src/shared/run-command.js';
import { ensureUnreachableRoute } from '../test/helpers/netns.js';
import { startRedis } from '../test/helpers/redis.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}
const distArg = process.argv.indexOf('--dist');
const dist = path.resolve(distArg >= 0 ? process.argv[distArg + 1]! : path.join(import.meta.dirname, '..', 'dist'));
if (!existsSync(path.join(dist, 'detector', 'detector.js'))) throw new Error(`${dist} holds no build: run npm run build first`);
const UNIT = path.join(import.meta.dirname, '..', 'deploy', 'systemd', 'cmpha.service');
const optArg = process.argv.indexOf('--node-options');
const nodeOptions = optArg >= 0 ? process.argv[optArg + 1]! : (/^Environment="?NODE_OPTIONS=([^"\n]*)"?$/m.exec(readFileSync(UNIT, 'utf8'))?.[1] ?? '');
const hosts = arg('--hosts', 5000);
const perHost = arg('--per-host', 20);
const rounds = arg('--rounds', 10);
const IP_BLOCK = 64;
/** One case may take this long before its process is stopped (a bound, not a target). */
const CASE_LIMIT_MS = 10 * 60_000;
const root = process.getuid?.() === 0;
const ms = (n: number) => `${Math.round(n)} ms`;
const mb = (b: number) => `${Math.round(b / 1024 / 1024)} MB`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** What one detector process reports (bench/detector-scale-side.mjs), plus its VmHWM read by this process. */
interface SideResult {
  firstMs: number; steadyMs: number[]; verdicts: number; healthy: number; addresses: number;
  rssAtStart: number; rssLoaded: number; rssAfter: number; heapUsed: number; hwmSelf: number; hwm: number;
}

function exited(p: ChildProcess): Promise<void> {
  return p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((r) => p.once('exit', () => r()));
}

/** Runs one case in its own detector process and reads its peak RSS before it exits. */
async function runSide(config: string, prober: 'instant' | 'fping', storage: boolean, redisUrl?: string): Promise<SideResult> {
  const side = spawn(process.execPath, [path.join(import.meta.dirname, 'detector-scale-side.mjs'), '--dist', dist, '--config', config,
    '--prober', prober, '--storage', storage ? 'yes' : 'no', '--rounds', String(rounds), ...(redisUrl ? ['--redis', redisUrl] : [])],
  { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, NODE_OPTIONS: nodeOptions } });
  const limit = setTimeout(() => side.kill('SIGKILL'), CASE_LIMIT_MS);
  try {
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: side.stdout! }).once('line', resolve);
      side.once('exit', (code, sig) => reject(new Error(`the detector process exited with ${code ?? sig} before reporting`)));
    });
    const status = readFileSync(`/proc/${side.pid}/status`, 'utf8');
    const hwm = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1]) * 1024;
    side.stdin!.end();
    await exited(side);
    return { ...(JSON.parse(line) as Omit<SideResult, 'hwm'>), hwm };
  } finally {
    clearTimeout(limit);
    if (side.exitCode === null && side.signalCode === null) { side.kill('SIGKILL'); await exited(side); }
  }
}

// The simulator in a child process.
const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, '..', 'test', 'integration', 'sim', 'cli-entry.ts'),
  'sim', '--hosts', String(hosts), '--instances-per-host', String(perHost), '--spares', '2', '--ip-block', String(IP_BLOCK), '--log-level', 'error'],
{ stdio: ['ignore', 'pipe', 'inherit'] });
const started = await new Promise<{ control_url: string; config: string }>((resolve, reject) => {
  const rl = createInterface({ input: child.stdout! });
  rl.once('line', (l) => resolve(JSON.parse(l) as { control_url: string; config: string }));
  child.once('exit', (code) => reject(new Error(`the simulator exited with ${code}`)));
});

const NS = `cmpha-bench-${process.pid}`;
const VETH = `vb${process.pid % 100000}`;
// Outside the management and storage /24s of any world this bench builds (ipBlock 64: up to 16,000 hosts).
const GATEWAY = '198.19.126.254';
// The namespace's own address: the root side routes every address via it, so one neighbour entry serves them all
// (5,000 on-link addresses would overflow the kernel's neighbour table and look silent).
const HOP = '198.19.126.253';
/** One route per /24 holding a management or storage address (40 + 40 of them at 10,000 hosts). */
const routesFor = (ips: readonly string[]) => [...new Set(ips.map((a) => `${a.split('.').slice(0, 3).join('.')}.0/24`))];
async function ip(args: string[], lines: string[]): Promise<void> {
  const file = path.join(os.tmpdir(), `cmpha-bench-${process.pid}-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  try {
    const r = await runCommand('ip', [...args, '-batch', file], { timeoutMs: 60_000 });
    if (r.exitCode !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
  } finally {
    rmSync(file, { force: true });
  }
}

const rows: Array<[string, string]> = [];
let netnsUp = false;
const redis = await startRedis();
try {
  const loaded = await loadConfig({ path: started.config, env: {} });

  function record(label: string, r: SideResult): void {
    rows.push([`${label}: first round (also lists new hosts' servers for the instance baseline)`, `${ms(r.firstMs)}, ${r.verdicts} verdicts`]);
    rows.push([`${label}: steady round, median of ${rounds}`, `${ms(median(r.steadyMs))} (worst ${ms(Math.max(...r.steadyMs))}), ${r.healthy} healthy`]);
    rows.push([`${label}: detector process memory`, `peak RSS (VmHWM) ${mb(r.hwm)}; after the rounds RSS ${mb(r.rssAfter)}, JS heap used ${mb(r.heapUsed)}; `
      + `${mb(r.rssAtStart)} at start, ${mb(r.rssLoaded)} with cmpha's modules loaded`]);
  }

  rows.push(['world', `${hosts} hosts × ${perHost} servers (${hosts * perHost} servers), simulator in its own process, detector from ${path.relative(process.cwd(), dist) || dist}, NODE_OPTIONS=${nodeOptions || '(none)'}`]);
  record('no probes (a prober that answers at once), management addresses only', await runSide(started.config, 'instant', false));
  record('cmpha run\'s composition root (detector loop every interval, recovery workers on Redis, metrics endpoint), no probes', await runSide(started.config, 'instant', false, redis.url));

  if (root) {
    // One namespace holding every management and storage address of the world, behind one veth pair.
    const mgmtIps = Object.values(loaded.hosts).map((h) => h.mgmtIp!).filter(Boolean);
    const storageIps = Object.values(loaded.hosts).flatMap((h) => h.storageIps ?? []);
    const ROUTES = routesFor([...mgmtIps, ...storageIps]);
    const existing = await runCommand('ip', ['route', 'show'], { timeoutMs: 10_000 });
    for (const r of ROUTES) if (existing.stdout.includes(r)) throw new Error(`${r} is already routed on this machine`);
    // Addresses of the world outside the namespace (instance addresses probed for the baseline) fail here, never off the machine.
    await ensureUnreachableRoute();
    await ip([], [`netns add ${NS}`, `link add ${VETH} type veth peer name eth0 netns ${NS}`, `addr add ${GATEWAY}/32 dev ${VETH}`, `link set ${VETH} up`,
    ]);
    netnsUp = true;
    await ip(['-n', NS], ['link set lo up', 'link set eth0 up', `addr add ${HOP}/32 dev eth0`, `route add ${GATEWAY}/32 dev eth0`,
      `route add default via ${GATEWAY} dev eth0`, ...[...mgmtIps, ...storageIps].map((a) => `addr add ${a}/32 dev eth0`)]);
    await ip([], [`route add ${HOP}/32 dev ${VETH} src ${GATEWAY}`, ...ROUTES.map((r) => `route add ${r} via ${HOP} dev ${VETH} src ${GATEWAY}`)]);
    const d = loaded.detector;
    record(`real fping (-c ${d.probeCount} -t ${d.probeTimeoutMs} -i ${d.probePacketIntervalMs}), ${mgmtIps.length} management addresses in a namespace`,
      await runSide(started.config, 'fping', false));
    record(`real fping, ${mgmtIps.length} management + ${storageIps.length} storage addresses`, await runSide(started.config, 'fping', true));
    record(`cmpha run's composition root (detector loop every interval, recovery workers on Redis, metrics endpoint), real fping of ${mgmtIps.length} + ${storageIps.length} addresses`,
      await runSide(started.config, 'fping', true, redis.url));
  }
} finally {
  if (netnsUp) {
    await runCommand('ip', ['link', 'del', VETH], { timeoutMs: 10_000 }).catch(() => undefined);
    await runCommand('ip', ['netns', 'del', NS], { timeoutMs: 10_000 }).catch(() => undefined);
  }
  await redis.stop();
  child.kill('SIGTERM');
  await exited(child);
}

const cpus = os.cpus();
console.log(`\nMeasured with \`npx tsx bench/detector-scale.ts --hosts ${hosts} --per-host ${perHost} --rounds ${rounds}\` on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus.length} CPUs.\n`);
console.log('| what | figure |\n| --- | --- |');
for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
