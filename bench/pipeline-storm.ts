// Ten hosts die together (the storm brake raised so all ten incidents open): 1,000 servers evacuated through
// one shared rate limit. Checks that no 60 s window holds more evacuate calls than max_per_minute and that
// every server is verified; reports the time and the peak RSS of this process (simulator + pipeline).
// Usage: npx tsx bench/pipeline-storm.ts [--hosts 10] [--per-host 100] [--max-per-minute 500] [--concurrency 32]
import { addServer } from '../src/sim/index.js';
import { startRedis } from '../test/helpers/redis.js';
import { isEvacuate, pipelineWorld, waitClosed } from '../test/integration/pipeline/world.js';
import { newRedis } from '../test/unit/pipeline/harness.js';

function arg(name: string, dflt: string): number {
  const i = process.argv.indexOf(`--${name}`);
  return Number(i > 0 ? process.argv[i + 1]! : dflt);
}
const dead = arg('hosts', '10');
const perHost = arg('per-host', '100');
const maxPerMinute = arg('max-per-minute', '500');
const concurrency = arg('concurrency', '32');
const T = arg('evacuate-seconds', '1');

const redisServer = await startRedis();
const redis = newRedis(redisServer.url);
const w = await pipelineWorld({
  hosts: dead + 2, instancesPerHost: 0, spares: dead, evacuateSeconds: T, hostVcpus: 64, hostMemoryMb: 262144,
  redisUrl: redisServer.url, evacuation: { concurrency, maxPerMinute, verifyPollIntervalMs: 250, verifyTimeoutMs: 600_000 },
});
try {
  const hosts = Array.from({ length: dead }, (_, i) => `compute${i + 1}`);
  for (const h of hosts) for (let i = 0; i < perHost; i++) addServer(w.sim.world, { host: h, flavor: 'm1.tiny', name: `${h}-vm${i}` });
  for (const h of hosts) await w.control(h, 'power-off');
  for (const h of hosts) await w.waitNovaDown(h);
  const r = w.recovery(redis);
  await r.startWorkers();
  const t0 = Date.now();
  await Promise.all(hosts.map((h) => r.opener.open({ id: `storm-${h}`, host: h, failureStartedAt: t0, evidence: {} })));
  const incidents = await Promise.all(hosts.map((h) => waitClosed(r, `storm-${h}`, 1_800_000)));
  const took = (Date.now() - t0) / 1000;
  const verified = incidents.reduce((a, inc) => a + inc.instances.filter((e) => e.state === 'verified').length, 0);
  const times = (await w.calls()).filter(isEvacuate).map((c) => Date.parse(c.time)).sort((a, b) => a - b);
  let worst = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[j]! <= times[i]! - 60_000) j++;
    worst = Math.max(worst, i - j + 1);
  }
  const spares = new Set(incidents.flatMap((inc) => (inc.spares ?? []).map((s) => s.host)));
  const rssMb = process.resourceUsage().maxRSS / 1024;
  const statuses = incidents.map((i) => i.status).join(',');
  console.log(`| ${dead} hosts × ${perHost} servers, max_per_minute ${maxPerMinute}, concurrency ${concurrency}, T = ${T} s | ${took.toFixed(1)} s | ${times.length} calls, at most ${worst} in any 60 s (limit ${maxPerMinute}) | ${verified}/${dead * perHost} verified, ${spares.size} distinct spares, ${statuses.includes('partial') || statuses.includes('failed') ? statuses : 'all resolved'} | ${rssMb.toFixed(0)} MB |`);
  if (worst > maxPerMinute) process.exitCode = 1;
} finally {
  await w.close();
  redis.disconnect();
  await redisServer.stop();
}
