/**
 * Failover milestones on the simulator at Nova's default timings (report_interval 10 s, service_down_time 60 s)
 * and cmpha's defaults: the real controller (`cmpha run`'s composition root), Redis, Redfish fencing through the
 * simulator's BMCs, 4 servers on the failed host, real fping into network namespaces when run as root (the
 * simulator's probe otherwise). Each run fails the host at a random phase of its heartbeat and times, from
 * the failure: cmpha's first observation of silence, the incident opened, the power read back off, and the
 * last server ACTIVE on another host by Nova's API. Prints median and worst per kind of failure.
 *
 *   npx tsx bench/failover-sim.ts [--runs 10] [--kinds power-off,hang] [--json out.json] [--ip-block 200]
 */
import { writeFileSync } from 'node:fs';
import { loadConfig } from '../src/config/load.js';
import type { Config } from '../src/config/types.js';
import { startController } from '../src/app/controller.js';
import type { RoundReport } from '../src/detector/types.js';
import { createOpenStack } from '../src/openstack/index.js';
import { silentLogger } from '../src/shared/logger.js';
import { runSim } from '../src/sim/index.js';
import { startRedis } from '../test/helpers/redis.js';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : dflt;
}
const runs = Number(arg('runs', '10'));
const kinds = arg('kinds', 'power-off,hang').split(',');
const jsonOut = arg('json', '');
const netns = process.getuid?.() === 0;
const ipBlockBase = Number(arg('ip-block', '200'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Milestones {
  silent: number | null; opened: number | null; fenced: number | null; lastActive: number | null; status: string;
  /** From the incident's evidence: how long every signal had been silent, and updated_at unchanged, at the verdict. */
  why?: string;
}

async function post(base: string, p: string, body?: unknown): Promise<unknown> {
  const r = await fetch(`${base}${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!r.ok) throw new Error(`${p}: HTTP ${r.status} ${await r.text()}`);
  return r.json();
}

async function once(kind: string, run: number, redisUrl: string): Promise<Milestones> {
  const sim = await runSim({
    hosts: 2, spares: 1, instancesPerHost: 0, reportIntervalSeconds: 10, serviceDownTimeSeconds: 60,
    netns, ipBlock: ipBlockBase + (run % 20),
  });
  const victim = 'compute1';
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) {
    ids.push(((await post(sim.controlUrl, '/sim/servers', { name: `vm${i}`, host: victim })) as { server: { id: string } }).server.id);
  }
  const loaded = await loadConfig({ path: sim.configPath, env: {} });
  const config: Config = {
    ...loaded,
    detector: { ...loaded.detector, ...(netns ? { probe: 'fping' as const } : {}) },
    redis: { ...loaded.redis, url: redisUrl, prefix: `bench-fo-${process.pid}-${kind}-${run}` },
  };
  let failedAt: number | null = null;
  let silentAt: number | null = null;
  const onRound = (r: RoundReport | null) => {
    const h = r?.hosts.find((x) => x.host === victim);
    if (failedAt !== null && silentAt === null && h && (h.evidence.networks ?? [h.evidence.mgmt]).every((n) => n.result === 'silent')) silentAt = r!.startedAt;
  };
  const controller = await startController(config, { logger: silentLogger, metrics: false, onRound });
  const { nova } = createOpenStack(config.cloud, { logger: silentLogger });
  try {
    // A healthy stretch (baseline, heartbeat period), ending at a random phase of the 10 s heartbeat.
    await sleep(12_000 + Math.random() * 10_000);
    await post(sim.controlUrl, `/sim/hosts/${victim}/${kind}`);
    failedAt = Date.now();
    const deadline = failedAt + 180_000;
    let lastActive: number | null = null;
    while (Date.now() < deadline && lastActive === null) {
      const servers = await Promise.all(ids.map((id) => nova.getServer(id)));
      if (servers.every((s) => s && s.status === 'ACTIVE' && s.host !== victim && s.host !== null && s.taskState === null)) lastActive = Date.now();
      else await sleep(250);
    }
    const id = await controller.recovery.incidents.openIncidentFor(victim);
    let incident = id ? await controller.recovery.incidents.get(id) : null;
    for (let i = 0; i < 40 && incident && !['resolved', 'partial', 'failed', 'aborted'].includes(incident.status); i++) {
      await sleep(250);
      incident = await controller.recovery.incidents.get(incident.id);
    }
    const s = (t: number | null | undefined) => (t === null || t === undefined ? null : Math.round(t - failedAt!) / 1000);
    const ev = incident?.evidence as { silentForMs?: number; nova?: { says?: string; unchangedForMs?: number | null; heartbeatPeriodMs?: number } } | null | undefined;
    const why = ev ? `silent ${((ev.silentForMs ?? 0) / 1000).toFixed(1)} s, Nova ${ev.nova?.says}, updated_at unchanged ${((ev.nova?.unchangedForMs ?? 0) / 1000).toFixed(1)} s, period ${(ev.nova?.heartbeatPeriodMs ?? 0) / 1000} s` : undefined;
    return { silent: s(silentAt), opened: s(incident?.openedAt), fenced: s(incident?.fence?.at), lastActive: s(lastActive), status: incident?.status ?? 'no incident', ...(why ? { why } : {}) };
  } finally {
    await controller.stop();
    await sim.close();
  }
}

// An interrupted run still removes its namespaces (the simulator's exit hook) and its Redis.
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
const redis = await startRedis();
const results: Record<string, Milestones[]> = {};
try {
  for (const kind of kinds) {
    results[kind] = [];
    for (let i = 0; i < runs; i++) {
      const m = await once(kind, i, redis.url);
      results[kind].push(m);
      console.log(`${kind} run ${i + 1}: silent ${m.silent} s, opened ${m.opened} s, fenced ${m.fenced} s, last ACTIVE ${m.lastActive} s (${m.status}; ${m.why ?? ''})`);
    }
  }
} finally {
  await redis.stop();
}

const stat = (xs: Array<number | null>) => {
  const v = xs.filter((x): x is number => x !== null).sort((a, b) => a - b);
  if (v.length === 0) return 'n/a';
  const med = v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
  return `${med.toFixed(1)} s / ${v.at(-1)!.toFixed(1)} s${v.length < xs.length ? ` (${xs.length - v.length} missing)` : ''}`;
};
console.log(`\n${netns ? 'real fping in namespaces' : 'simulator probe'}, ${runs} runs per kind; median / worst after the failure\n`);
console.log(`| milestone | ${kinds.join(' | ')} |`);
console.log(`| --- | ${kinds.map(() => '---').join(' | ')} |`);
for (const [label, key] of [['host silent (cmpha\'s first silent observation)', 'silent'], ['incident opened', 'opened'], ['power read back off', 'fenced'], ['last server ACTIVE (Nova\'s API)', 'lastActive']] as const) {
  console.log(`| ${label} | ${kinds.map((k) => stat(results[k]!.map((m) => m[key]))).join(' | ')} |`);
}
if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify(results, null, 2)}\n`);
