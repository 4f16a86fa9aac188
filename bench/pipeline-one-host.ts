// Recovery of one host with 50 servers on the simulator: time from incident open to the last server
// verified, against the ideal ceil(50 / concurrency) × T where T is the simulated evacuate time.
// Usage: npx tsx bench/pipeline-one-host.ts [--servers 50] [--evacuate-seconds 1] [--concurrency 4,10]
import { addServer } from '../src/sim/index.js';
import { startRedis } from '../test/helpers/redis.js';
import { isEvacuate, pipelineWorld, waitClosed } from '../test/integration/pipeline/world.js';
import { newRedis } from '../test/unit/pipeline/harness.js';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : dflt;
}
const servers = Number(arg('servers', '50'));
const T = Number(arg('evacuate-seconds', '1'));
const concurrencies = arg('concurrency', '4,10').split(',').map(Number);

const redisServer = await startRedis();
const redis = newRedis(redisServer.url);
const rows: string[] = [];
try {
  for (const concurrency of concurrencies) {
    const w = await pipelineWorld({
      hosts: 2, instancesPerHost: 0, spares: 1, evacuateSeconds: T, hostVcpus: 64, hostMemoryMb: 262144,
      redisUrl: redisServer.url, evacuation: { concurrency, verifyPollIntervalMs: 100 },
    });
    try {
      for (let i = 0; i < servers; i++) addServer(w.sim.world, { host: 'compute1', flavor: 'm1.tiny', name: `vm${i}` });
      await w.control('compute1', 'power-off');
      await w.waitNovaDown('compute1');
      const r = w.recovery(redis);
      await r.startWorkers();
      const t0 = Date.now();
      await r.opener.open({ id: `bench-${concurrency}`, host: 'compute1', failureStartedAt: t0, evidence: {} });
      const inc = await waitClosed(r, `bench-${concurrency}`, 600_000);
      const lastVerified = Math.max(...inc.instances.map((e) => e.verifiedAt ?? 0));
      const took = (lastVerified - t0) / 1000;
      const ideal = Math.ceil(servers / concurrency) * T;
      const evacuations = (await w.calls()).filter(isEvacuate).length;
      const verified = inc.instances.filter((e) => e.state === 'verified').length;
      const firstPost = Math.min(...inc.instances.map((e) => e.requestedAt ?? Infinity));
      rows.push(`| ${servers} servers, T = ${T} s, concurrency ${concurrency} | ${took.toFixed(2)} s | ${ideal} s | ${(took / ideal).toFixed(2)} | ${((firstPost - t0) / 1000).toFixed(2)} s | ${verified}/${servers} verified, ${evacuations} evacuate calls, ${inc.status} |`);
      console.log(rows.at(-1));
    } finally {
      await w.close();
    }
  }
} finally {
  redis.disconnect();
  await redisServer.stop();
}
console.log('\n| case | open → last verified | ideal ceil(n/c)×T | ratio | open → first evacuate | result |\n| --- | --- | --- | --- | --- | --- |');
for (const r of rows) console.log(r);
