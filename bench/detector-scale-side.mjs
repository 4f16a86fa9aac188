// The cmpha side of bench/detector-scale.ts, alone in its own process and on the built code (dist/, as
// `cmpha run` runs it), so that its peak RSS is the detector's and not the TypeScript loader's or the bench's.
//
//   node bench/detector-scale-side.mjs --dist DIR --config PATH --prober instant|fping --storage yes|no --rounds N [--redis URL]
//
// Without --redis the detector alone runs its rounds back to back. With it, `cmpha run`'s composition root does
// (startController: the detector loop at its interval, the recovery workers on Redis, the metrics endpoint), and
// the rounds are timed from the reports the loop hands out.
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

const redisUrl = process.argv.includes('--redis') ? opt('--redis') : null;
const [{ loadConfig }, { createDetector }, { createProber }, { createOpenStack }, { silentLogger }, { novaBackend, markerPrefixes }, controllerModule] = await Promise.all([
  load('config/load.js'), load('detector/detector.js'), load('detector/prober.js'), load('openstack/index.js'), load('shared/logger.js'), load('compute/nova/index.js'),
  redisUrl ? load('app/controller.js') : null,
  // What `cmpha` itself loads before it runs a command: every command's modules.
  redisUrl ? load('cli/main.js') : null,
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
const prober = opt('--prober') === 'fping'
  ? createProber(config.detector, { logger: silentLogger })
  : { kind: 'instant', probe: async (ips) => new Map(ips.map((a) => [a, 'alive'])) };
const rounds = Number(opt('--rounds'));

/** The detector alone, its rounds back to back. Only counts are kept from the reports: holding them here would add to its memory. */
async function detectorRounds() {
  const { nova } = createOpenStack(config.cloud, { logger: silentLogger });
  // The detector sees the cloud through the compute-backend port, as `cmpha run` builds it.
  const detector = createDetector({ config, compute: novaBackend(nova, markerPrefixes(config)), prober, logger: silentLogger });
  const t0 = performance.now();
  const verdicts = (await detector.runRound()).hosts.length;
  const firstMs = performance.now() - t0;
  const steadyMs = [];
  let healthy = 0;
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    healthy = (await detector.runRound()).hosts.filter((h) => h.verdict === 'healthy').length;
    steadyMs.push(performance.now() - t);
  }
  return { firstMs, steadyMs, verdicts, healthy };
}

/** `cmpha run`'s composition root, until its loop has reported rounds + 1 full rounds (bounded: 10 minutes). */
async function controllerRounds() {
  const times = [];
  let verdicts = 0;
  let healthy = 0;
  let failure = null;
  let done;
  const finished = new Promise((resolve) => { done = resolve; });
  const limit = setTimeout(() => { failure = new Error(`${times.length} rounds in 10 minutes`); done(); }, 600_000);
  const controller = await controllerModule.startController({ ...config, redis: { ...config.redis, url: redisUrl, prefix: `bench-scale-${process.pid}` } }, {
    logger: silentLogger, prober, metricsListen: { host: '127.0.0.1', port: 0 }, apiListen: { host: '127.0.0.1', port: 0 },
    onRound: (r, err) => {
      if (err) { failure = err; done(); return; }
      if (!r || r.kind !== 'round') return;
      times.push(r.durationMs);
      verdicts = r.hosts.length;
      healthy = r.hosts.filter((h) => h.verdict === 'healthy').length;
      if (times.length > rounds) done();
    },
  });
  await finished;
  clearTimeout(limit);
  await controller.stop();
  if (failure) throw failure;
  return { firstMs: times[0], steadyMs: times.slice(1), verdicts, healthy };
}

const result = redisUrl ? await controllerRounds() : await detectorRounds();
const mem = process.memoryUsage();
const vm = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN) * 1024;
process.stdout.write(`${JSON.stringify({
  ...result,
  addresses: Object.values(hosts).reduce((n, h) => n + 1 + (h.storageIps?.length ?? 0), 0),
  rssAtStart, rssLoaded, rssAfter: mem.rss, heapUsed: mem.heapUsed, hwmSelf: vm('VmHWM'),
})}\n`);
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
