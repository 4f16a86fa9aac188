/**
 * Detector round cost. Part 1: the real Nova client against the simulator (sim probe) with N hosts × M
 * servers: the first round (which also lists every host's servers for the instance baseline), steady-state
 * rounds, and a round with hosts down (their servers listed and probed). Part 2: real fping against one
 * network namespace holding up to 240 addresses, all alive and half silent, with 1 and 2 packets.
 * Prints the figures and writes them under "Detector round" in docs/benchmarks.md.
 *
 *   npx tsx bench/detector-round.ts [--hosts 500] [--per-host 10] [--no-netns] [--no-write]
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config/load.js';
import type { Config } from '../src/config/types.js';
import { createDetector } from '../src/detector/detector.js';
import { createProber } from '../src/detector/prober.js';
import { createOpenStack } from '../src/openstack/index.js';
import { silentLogger } from '../src/shared/logger.js';
import { runSim } from '../src/sim/index.js';
import { NetLab } from '../test/helpers/netns.js';
import { computeOf } from '../test/helpers/compute.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const hosts = arg('--hosts', 500);
const perHost = arg('--per-host', 10);
const write = !process.argv.includes('--no-write');
const netns = !process.argv.includes('--no-netns') && process.getuid?.() === 0;
const ms = (n: number) => `${Math.round(n)} ms`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const v = await fn();
  return [v, performance.now() - t0];
}

const rows: Array<[string, string]> = [];

const sim = await runSim({ hosts, instancesPerHost: perHost, spares: 2, reportIntervalSeconds: 10, serviceDownTimeSeconds: 60 });
try {
  const loaded = await loadConfig({ path: sim.configPath, env: {} });
  const config: Config = { ...loaded, detector: { ...loaded.detector, probe: 'sim', instanceNetworks: ['provider'] } };
  const { nova } = createOpenStack(config.cloud, { logger: silentLogger, clock: sim.world.clock });
  const detector = createDetector({ config, compute: computeOf(nova, { config }), prober: createProber(config.detector, { logger: silentLogger }), clock: sim.world.clock, logger: silentLogger });
  const advance = (s: number) => fetch(`${sim.controlUrl}/sim/clock`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ advanceSeconds: s }) });
  const [first, firstMs] = await timed(() => detector.runRound());
  rows.push(['world', `${hosts} hosts × ${perHost} servers (Nova over loopback HTTP, sim probe)`]);
  rows.push(['first round (services, hypervisors, every host\'s servers for the baseline)', `${ms(firstMs)}, ${first.hosts.length} verdicts`]);
  const steady: number[] = [];
  for (let i = 0; i < 10; i++) {
    await advance(10);
    steady.push((await timed(() => detector.runRound()))[1]);
  }
  rows.push(['steady round, median of 10 (one services call, one probe, baseline refresh of 1/30 of hosts)', ms(median(steady))]);
  const down = Math.min(10, Math.floor(hosts / 50) || 1);
  for (let i = 1; i <= down; i++) await fetch(`${sim.controlUrl}/sim/hosts/compute${i}/power-off`, { method: 'POST' });
  await advance(70);
  const [r, downMs] = await timed(() => detector.runRound());
  rows.push([`round with ${down} hosts powered off (their servers listed and probed)`, `${ms(downMs)}, ${r.hosts.filter((h) => h.verdict === 'suspect').length} suspect`]);
} finally {
  await sim.close();
}

if (netns) {
  const lab = await NetLab.create();
  try {
    const a = await lab.addHost('a', 120);
    const b = await lab.addHost('b', 120);
    const ips = [...a.ips, ...b.ips];
    for (const count of [1, 2]) {
      const prober = createProber({
        intervalMs: 10_000, heartbeatTimeoutMs: 30_000, probeIntervalMs: 1000, heartbeatIntervalMs: 10_000, heartbeatMarginMs: 1000, minSilenceMs: 5000, singleSignalSilenceMs: 30_000, instanceNetworks: [], isolationAddresses: [], maxDeadHosts: 2,
        maxDeadFraction: 0.33, dryRun: false, probe: 'fping', fpingPath: 'fping', probeTimeoutMs: 500, probePacketIntervalMs: 1,
        probeCount: count, leaderLeaseMs: 30_000, disarmLimitMs: 86_400_000,
      }, { logger: silentLogger });
      const [alive, aliveMs] = await timed(() => prober.probe(ips));
      await lab.setLink('b', 'down');
      const [half, halfMs] = await timed(() => prober.probe(ips));
      await lab.setLink('b', 'up');
      const n = (m: Map<string, string>) => [...m.values()].filter((v) => v === 'alive').length;
      rows.push([`fping -c ${count} -t 500 -i 1, ${ips.length} addresses in a namespace, all alive`, `${ms(aliveMs)} (${n(alive)} alive)`]);
      rows.push([`fping -c ${count} -t 500 -i 1, ${ips.length} addresses, half silent`, `${ms(halfMs)} (${n(half)} alive)`]);
    }
  } finally {
    await lab.destroy();
  }
}

const cpus = os.cpus();
const header = `Measured with \`npx tsx bench/detector-round.ts --hosts ${hosts} --per-host ${perHost}\` on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus.length} CPUs (${cpus[0]?.model.split(' ')[0] ?? 'unknown'}).`;
const table = ['| what | figure |', '| --- | --- |', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n');
const notes = [
  'Detection time follows from the settings more than from these costs: a host is dead once every address it has',
  'has been silent for `min_silence` and Nova has seen no heartbeat for one period plus `heartbeat_margin` (see',
  '"Failover at Nova\'s default timings" below and docs/operations.md, "Tuning detection"). The 5,000-host figures are',
  'under "Detector round at scale".',
].join('\n');
const section = `## Detector round\n\n${header}\n\n${table}\n\n${notes}\n`;
process.stdout.write(`${section}\n`);

if (write) {
  const file = path.join(import.meta.dirname, '..', 'docs', 'benchmarks.md');
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const re = /## Detector round\n[\s\S]*?(?=\n## |$)/;
  const next = re.test(text) ? text.replace(re, section.trimEnd() + '\n') : `${text.trimEnd()}\n\n${section}`;
  writeFileSync(file, next);
}
