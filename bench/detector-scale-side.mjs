// The cmpha side of bench/detector-scale.ts, alone in its own process and on the built code (dist/, as
// `cmpha run` runs it), so that its peak RSS is the detector's and not the TypeScript loader's or the bench's.
//
//   node bench/detector-scale-side.mjs --dist DIR --config PATH --prober instant|fping --storage yes|no --rounds N
//
// Prints one JSON line with the round times and memory, then waits for stdin to close so the parent can read
// this process's VmHWM from /proc before it exits.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const rssAtStart = process.memoryUsage().rss;
const opt = (name) => {
  const i = process.argv.indexOf(name);
  if (i < 0 || i + 1 >= process.argv.length) throw new Error(`missing ${name}`);
  return process.argv[i + 1];
};
const dist = path.resolve(opt('--dist'));
const load = (rel) => import(pathToFileURL(path.join(dist, rel)).href);

const [{ loadConfig }, { createDetector }, { createProber }, { createOpenStack }, { silentLogger }] = await Promise.all([
  load('config/load.js'), load('detector/detector.js'), load('detector/prober.js'), load('openstack/index.js'), load('shared/logger.js'),
]);
const rssLoaded = process.memoryUsage().rss;

// The loaded config is not kept beside the one the detector gets: only what cmpha itself would hold stays alive.
const config = await (async () => {
  const loaded = await loadConfig({ path: opt('--config'), env: {} });
  const hosts = opt('--storage') === 'yes' ? loaded.hosts
    : Object.fromEntries(Object.entries(loaded.hosts).map(([h, c]) => [h, { ...c, storageIps: [] }]));
  return { ...loaded, hosts, detector: { ...loaded.detector, probe: 'fping', instanceNetworks: ['provider'] } };
})();
const hosts = config.hosts;
const { nova } = createOpenStack(config.cloud, { logger: silentLogger });
const prober = opt('--prober') === 'fping'
  ? createProber(config.detector, { logger: silentLogger })
  : { kind: 'instant', probe: async (ips) => new Map(ips.map((a) => [a, 'alive'])) };
const detector = createDetector({ config, nova, prober, logger: silentLogger });

const rounds = Number(opt('--rounds'));
const t0 = performance.now();
// Only counts are kept from the reports: holding whole reports here would add to the detector's own memory.
const verdicts = (await detector.runRound()).hosts.length;
const firstMs = performance.now() - t0;
const steadyMs = [];
let healthy = 0;
for (let i = 0; i < rounds; i++) {
  const t = performance.now();
  healthy = (await detector.runRound()).hosts.filter((h) => h.verdict === 'healthy').length;
  steadyMs.push(performance.now() - t);
}
const mem = process.memoryUsage();
const vm = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN) * 1024;
process.stdout.write(`${JSON.stringify({
  firstMs, steadyMs, verdicts, healthy,
  addresses: Object.values(hosts).reduce((n, h) => n + 1 + (h.storageIps?.length ?? 0), 0),
  rssAtStart, rssLoaded, rssAfter: mem.rss, heapUsed: mem.heapUsed, hwmSelf: vm('VmHWM'),
})}\n`);
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
