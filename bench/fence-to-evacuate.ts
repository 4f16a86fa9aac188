// From the fence confirmed to the last evacuate accepted, piece by piece, on the simulator: the recovery of one
// host with 4 servers and one disabled spare, Redfish fencing through the simulator's BMC, Nova answering every
// call after --nova-ms (the lab's nova-api takes about 100–300 ms a call), the shipped evacuation settings
// (stagger, max_per_minute, concurrency) unless given. Counts every Nova call the recovery makes.
// Usage: npx tsx bench/fence-to-evacuate.ts [--runs 5] [--servers 4] [--nova-ms 150] [--case hang|power-off]
import { addServer } from '../src/sim/index.js';
import type { NovaApi } from '../src/openstack/types.js';
import { loadConfig } from '../src/config/load.js';
import { startRedis } from '../test/helpers/redis.js';
import { isEvacuate, pipelineWorld, waitClosed } from '../test/integration/pipeline/world.js';
import { newRedis } from '../test/unit/pipeline/harness.js';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : dflt;
}
const runs = Number(arg('runs', '5'));
const servers = Number(arg('servers', '4'));
const novaMs = Number(arg('nova-ms', '150'));
const failure = arg('case', 'hang');

/** Every NovaApi method call, counted by name. */
function counting(nova: NovaApi, counts: Map<string, number>): NovaApi {
  return new Proxy(nova, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function' || typeof prop !== 'string') return v;
      return (...args: unknown[]) => {
        counts.set(prop, (counts.get(prop) ?? 0) + 1);
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]!; };
const fmt = (ms: number) => `${(ms / 1000).toFixed(2)}`;


const redisServer = await startRedis();
const redis = newRedis(redisServer.url);
const pieces = new Map<string, number[]>();
const add = (k: string, v: number) => pieces.set(k, [...(pieces.get(k) ?? []), v]);
const callTotals: number[] = [];
let callsByName = new Map<string, number>();
try {
  for (let run = 0; run < runs; run++) {
    const world = { hosts: 2, instancesPerHost: 0, spares: 1, hostVcpus: 64, hostMemoryMb: 262144, redisUrl: redisServer.url };
    const probe = await pipelineWorld(world);
    // The shipped [evacuation] settings: the simulator's cmpha.conf sets none of them (the test world shortens some).
    const shipped = (await loadConfig({ path: probe.sim.configPath, env: {} })).evacuation;
    await probe.close();
    const stagger = arg('stagger-ms', '');
    const w = await pipelineWorld({
      ...world,
      evacuation: { staggerMs: stagger === '' ? shipped.staggerMs : Number(stagger), maxPerMinute: shipped.maxPerMinute, concurrency: shipped.concurrency },
    });
    if (run === 0) console.log(`stagger ${w.config.evacuation.staggerMs} ms, max_per_minute ${w.config.evacuation.maxPerMinute}, concurrency ${w.config.evacuation.concurrency}`);
    try {
      for (let i = 0; i < servers; i++) addServer(w.sim.world, { host: 'compute1', flavor: 'm1.tiny', name: `vm${i}` });
      await w.control('compute1', failure);
      await w.waitNovaDown('compute1');
      await w.faults({ latencyMs: novaMs });
      const counts = new Map<string, number>();
      const r = w.recovery(redis, { nova: counting(w.nova, counts) });
      await r.startWorkers();
      const id = `bench-${run}`;
      await r.opener.open({ id, host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
      const inc = await waitClosed(r, id, 120_000);
      const fenced = inc.fence?.at;
      if (fenced === undefined) throw new Error(`run ${run}: not fenced (${inc.status})`);
      const at = (step: string, match?: RegExp) => inc.timeline.find((e) => e.step === step && (!match || match.test(e.message)))?.at;
      const started = inc.fenceStartedAt ?? fenced;
      const accepted = inc.instances.map((e) => e.acceptedAt ?? NaN);
      const requested = inc.instances.map((e) => e.requestedAt ?? NaN);
      add('fence started → fence confirmed (power read back off)', fenced - started);
      add('fence confirmed → forced down', (at('force-down') ?? NaN) - fenced);
      add('fence confirmed → disabled', (at('disable') ?? NaN) - fenced);
      add('fence confirmed → spare enabled', (at('spare', /enabled/) ?? NaN) - fenced);
      add('fence confirmed → first evacuate requested', Math.min(...requested) - fenced);
      add('fence confirmed → first evacuate accepted', Math.min(...accepted) - fenced);
      add(`fence confirmed → last of ${servers} evacuates accepted`, Math.max(...accepted) - fenced);
      const posts = (await w.calls()).filter(isEvacuate).length;
      const total = [...counts.values()].reduce((a, b) => a + b, 0);
      callTotals.push(total);
      callsByName = counts;
      console.log(`run ${run + 1}: ${inc.status}, last accepted ${fmt(Math.max(...accepted) - fenced)} s after the fence, ${posts} evacuate POSTs, ${total} Nova calls`);
    } finally {
      await w.close();
    }
  }
} finally {
  redis.disconnect();
  await redisServer.stop();
}
console.log(`\n${servers} servers, Nova answering after ${novaMs} ms, case ${failure}, ${runs} runs; seconds, median / worst:\n`);
console.log('| piece | median | worst |\n| --- | --- | --- |');
for (const [k, v] of pieces) console.log(`| ${k} | ${fmt(median(v))} | ${fmt(Math.max(...v))} |`);
console.log(`| Nova calls by the recovery (median) | ${median(callTotals)} | ${Math.max(...callTotals)} |`);
console.log(`\nNova calls of the last run: ${[...callsByName].map(([k, v]) => `${k} ${v}`).join(', ')}`);
