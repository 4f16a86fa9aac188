/**
 * One detector round at scale: 5,000 hosts × 20 servers in the simulator (its own process, so the figure is the
 * detector's memory alone), the real Nova client over loopback HTTP. Rounds with an in-process prober that
 * answers at once ("without probes"), then with real fping against a network namespace holding the 5,000
 * management addresses (and, second, the 5,000 storage addresses too). Peak RSS of this process.
 *
 *   npx tsx bench/detector-scale.ts [--hosts 5000] [--per-host 20] [--rounds 5]
 *
 * Root only for the fping part (it creates one namespace, one veth pair and two routes, all removed at the end).
 */
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config/load.js';
import type { Config, HostConfig } from '../src/config/types.js';
import { createDetector } from '../src/detector/detector.js';
import { createProber } from '../src/detector/prober.js';
import type { Prober, ProbeResult, RoundReport } from '../src/detector/types.js';
import { createOpenStack } from '../src/openstack/index.js';
import { runCommand } from '../src/shared/run-command.js';
import { silentLogger } from '../src/shared/logger.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}
const hosts = arg('--hosts', 5000);
const perHost = arg('--per-host', 20);
const rounds = arg('--rounds', 5);
const IP_BLOCK = 64;
const root = process.getuid?.() === 0;
const ms = (n: number) => `${Math.round(n)} ms`;
const mb = (b: number) => `${Math.round(b / 1024 / 1024)} MB`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
let peakRss = 0;
const sampleRss = () => { peakRss = Math.max(peakRss, process.memoryUsage().rss); };
const sampler = setInterval(sampleRss, 50);
const startRss = process.memoryUsage().rss;

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
const GATEWAY = '198.18.95.254';
// The namespace's own address: the root side routes every address via it, so one neighbour entry serves them all
// (5,000 on-link addresses would overflow the kernel's neighbour table and look silent).
const HOP = '198.18.95.253';
const ROUTES = ['198.18.64.0/20', '198.18.80.0/22', '198.19.64.0/20', '198.19.80.0/22'];
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
try {
  const loaded = await loadConfig({ path: started.config, env: {} });
  const mgmtOnly: Record<string, HostConfig> = Object.fromEntries(Object.entries(loaded.hosts).map(([h, c]) => {
    return [h, { ...c, storageIps: [] }];
  }));
  const base: Config = { ...loaded, detector: { ...loaded.detector, probe: 'fping', instanceNetworks: ['provider'] } };
  const { nova } = createOpenStack(base.cloud, { logger: silentLogger });
  const instant: Prober = { kind: 'instant', probe: async (ips) => new Map(ips.map((a): [string, ProbeResult] => [a, 'alive'])) };

  async function measure(label: string, config: Config, prober: Prober): Promise<void> {
    const d = createDetector({ config, nova, prober, logger: silentLogger });
    const t0 = performance.now();
    const first = await d.runRound();
    rows.push([`${label}: first round (also lists every host's servers for the instance baseline)`, `${ms(performance.now() - t0)}, ${first.hosts.length} verdicts`]);
    const times: number[] = [];
    let last: RoundReport = first;
    for (let i = 0; i < rounds; i++) {
      const t = performance.now();
      last = await d.runRound();
      times.push(performance.now() - t);
    }
    const healthy = last.hosts.filter((h) => h.verdict === 'healthy').length;
    rows.push([`${label}: steady round, median of ${rounds}`, `${ms(median(times))} (worst ${ms(Math.max(...times))}), ${healthy} healthy`]);
    sampleRss();
    const m = process.memoryUsage();
    rows.push([`${label}: memory after the rounds`, `RSS ${mb(m.rss)}, JS heap used ${mb(m.heapUsed)}`]);
  }

  rows.push(['world', `${hosts} hosts × ${perHost} servers (${hosts * perHost} servers), simulator in its own process`]);
  await measure('no probes (a prober that answers at once), management addresses only', { ...base, hosts: mgmtOnly }, instant);

  if (root) {
    // One namespace holding every management and storage address of the world, behind one veth pair.
    const mgmtIps = Object.values(loaded.hosts).map((h) => h.mgmtIp!).filter(Boolean);
    const storageIps = Object.values(loaded.hosts).flatMap((h) => h.storageIps ?? []);
    const existing = await runCommand('ip', ['route', 'show'], { timeoutMs: 10_000 });
    for (const r of ROUTES) if (existing.stdout.includes(r)) throw new Error(`${r} is already routed on this machine`);
    await ip([], [`netns add ${NS}`, `link add ${VETH} type veth peer name eth0 netns ${NS}`, `addr add ${GATEWAY}/32 dev ${VETH}`, `link set ${VETH} up`,
    ]);
    netnsUp = true;
    await ip(['-n', NS], ['link set lo up', 'link set eth0 up', `addr add ${HOP}/32 dev eth0`, `route add ${GATEWAY}/32 dev eth0`,
      `route add default via ${GATEWAY} dev eth0`, ...[...mgmtIps, ...storageIps].map((a) => `addr add ${a}/32 dev eth0`)]);
    await ip([], [`route add ${HOP}/32 dev ${VETH} src ${GATEWAY}`, ...ROUTES.map((r) => `route add ${r} via ${HOP} dev ${VETH} src ${GATEWAY}`)]);
    const prober = createProber(base.detector, { logger: silentLogger });
    await measure(`real fping (-c ${base.detector.probeCount} -t ${base.detector.probeTimeoutMs} -i ${base.detector.probePacketIntervalMs}), ${mgmtIps.length} management addresses in a namespace`, { ...base, hosts: mgmtOnly }, prober);
    await measure(`real fping, ${mgmtIps.length} management + ${storageIps.length} storage addresses`, base, prober);
  }
  rows.push(['peak RSS of the detector process (simulator excluded)', `${mb(peakRss)} (${mb(startRss)} of it before anything was built: Node and the loader)`]);
} finally {
  clearInterval(sampler);
  if (netnsUp) {
    await runCommand('ip', ['link', 'del', VETH], { timeoutMs: 10_000 }).catch(() => undefined);
    await runCommand('ip', ['netns', 'del', NS], { timeoutMs: 10_000 }).catch(() => undefined);
  }
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

const cpus = os.cpus();
console.log(`\nMeasured with \`npx tsx bench/detector-scale.ts --hosts ${hosts} --per-host ${perHost}\` on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus.length} CPUs.\n`);
console.log('| what | figure |\n| --- | --- |');
for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
