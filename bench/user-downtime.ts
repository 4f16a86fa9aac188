// Power loss as the instances' users feel it, on the simulator with network namespaces and real fping (root):
// from the power cut to each server ACTIVE in Nova's API, and to its address answering again, seen by this
// bench's own fping loop (an independent witness) and by cmpha's network verification.
// With --slow-answer S, every moved server's address stays silent until S seconds after it runs ACTIVE on its
// new host (a guest slow to boot or to get its network): the wait is cmpha's network verification.
// Usage: sudo npx tsx bench/user-downtime.ts [--servers 8] [--evacuate-seconds 1,3] [--runs 2] [--slow-answer 0]
//        [--concurrency 4] [--label NAME]
import { spawn } from 'node:child_process';
import type { Config } from '../src/config/types.js';
import { createDetector } from '../src/detector/detector.js';
import { createFpingProber } from '../src/detector/fping-prober.js';
import { silentLogger } from '../src/shared/logger.js';
import { addServer } from '../src/sim/index.js';
import type { World } from '../src/sim/world.js';
import { startRedis } from '../test/helpers/redis.js';
import { pipelineWorld, waitClosed } from '../test/integration/pipeline/world.js';
import { newRedis } from '../test/unit/pipeline/harness.js';
import { computeOf } from '../test/helpers/compute.js';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : dflt;
}
const servers = Number(arg('servers', '8'));
const evacuateSeconds = arg('evacuate-seconds', '1,3').split(',').map(Number);
const runs = Number(arg('runs', '2'));
const slowAnswerMs = Number(arg('slow-answer', '0')) * 1000;
const concurrency = Number(arg('concurrency', '4'));
const label = arg('label', '');
if (process.getuid?.() !== 0) throw new Error('bench/user-downtime.ts needs root: it puts the simulated hosts in network namespaces');

/**
 * Keeps the guests of `serverIds` silent from the power cut until `slowAnswerMs` after each one runs ACTIVE on
 * another host, then lets it answer; ends when every one answers or `stopped()` (then all answer).
 */
async function slowGuests(world: World, serverIds: readonly string[], stopped: () => boolean): Promise<void> {
  const servers = serverIds.map((id) => world.servers.get(id)!);
  for (const x of servers) world.setGuestSilent(x, true);
  const activeSince = new Map<string, number>();
  while (!stopped() && servers.some((x) => x.guestSilent)) {
    for (const x of servers) {
      if (!x.guestSilent || x.host === 'compute1' || x.vmState !== 'active' || x.taskState !== null) continue;
      const since = activeSince.get(x.id) ?? Date.now();
      activeSince.set(x.id, since);
      if (Date.now() - since >= slowAnswerMs) world.setGuestSilent(x, false);
    }
    await new Promise((res) => setTimeout(res, 50));
  }
  for (const x of servers) world.setGuestSilent(x, false);
}

/** One fping round over `ips`: the addresses that answered. */
function fpingOnce(ips: readonly string[]): Promise<Set<string>> {
  return new Promise((resolve) => {
    const p = spawn('fping', ['-c', '1', '-t', '150', '-i', '1', '-q', ...ips], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    p.on('close', () => resolve(new Set(ips.filter((ip) => new RegExp(`^${ip.replace(/\./g, '\\.')} +: xmt/rcv/%loss = 1/1/`, 'm').test(err)))));
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

const redisServer = await startRedis();
const redis = newRedis(redisServer.url);
const rows: string[] = [];
let block = 40;
try {
  for (const T of evacuateSeconds) {
    for (let run = 1; run <= runs; run++) {
      const w = await pipelineWorld({
        hosts: 2, instancesPerHost: 0, spares: 1, evacuateSeconds: T, hostVcpus: 64, hostMemoryMb: 262144, netns: true, ipBlock: block++,
        redisUrl: redisServer.url, evacuation: { concurrency, verifyPollIntervalMs: 200, networkTimeoutMs: 60_000 },
      });
      try {
        for (let i = 0; i < servers; i++) addServer(w.sim.world, { host: 'compute1', flavor: 'm1.tiny', name: `vm${i}` });
        await w.sim.netns!.flush();
        const config: Config = {
          ...w.config,
          detector: { ...w.config.detector, probe: 'fping', instanceNetworks: ['provider'], intervalMs: 1000, heartbeatIntervalMs: 500, minSilenceMs: 2000, singleSignalSilenceMs: 2000, probeCount: 1, probeTimeoutMs: 300, probePacketIntervalMs: 1, maxDeadFraction: 1 },
        };
        const prober = createFpingProber(config.detector, { logger: silentLogger });
        const r = w.recovery(redis, { config, neutron: w.neutron, probe: (ips, signal) => prober.probe(ips, signal) });
        await r.startWorkers();
        // Healthy hosts' instance addresses are baselined every round, so one lost ping before the cut cannot leave a server unwatched.
        const detector = createDetector({ config, compute: computeOf(w.nova, { config }), prober, incidents: r.opener, logger: silentLogger, tuning: { baselineEveryRounds: 1 } });
        const ips = new Map((await w.serversOn('compute1')).map((x) => [x.id, x.addresses.find((a) => a.network === 'provider')!.addr]));
        // The detector's own loop, so the power cut falls anywhere within a round interval, as it does in production.
        detector.start();
        await new Promise((res) => setTimeout(res, 2500 + Math.random() * 1000));
        const t0 = Date.now();
        await w.control('compute1', 'power-off');
        const back = new Map<string, number>();
        let stopBy = Infinity;
        const slow = slowAnswerMs > 0 ? slowGuests(w.sim.world, [...ips.keys()], () => stopBy < Infinity) : Promise.resolve();
        const witness = (async () => {
          while (Date.now() < stopBy && back.size < ips.size) {
            const alive = await fpingOnce([...ips.values()].filter((ip) => !back.has(ip)));
            const at = Date.now();
            for (const ip of alive) back.set(ip, at);
            await new Promise((res) => setTimeout(res, 100));
          }
        })();
        let id: string | null = null;
        while (!id) {
          id = await r.incidents.openIncidentFor('compute1');
          if (!id) await new Promise((res) => setTimeout(res, 100));
        }
        const inc = await waitClosed(r, id, 300_000);
        await detector.stop();
        stopBy = Date.now() + 10_000;
        await witness;
        await slow;
        const moved = inc.instances.filter((e) => ips.has(e.id));
        if (process.argv.includes('--verbose')) {
          console.log(`failure started ${s(inc.failureStartedAt - t0)}, last sign of life ${s((inc.lastAliveAt ?? NaN) - t0)} (from the cut)`);
          for (const t of inc.timeline) console.log(`  ${s(t.at - t0)} ${t.step} ${t.message}`);
        }
        const lastActive = Math.max(...moved.map((e) => e.activeAt ?? 0)) - t0;
        const lastVerified = Math.max(...moved.map((e) => e.verifiedAt ?? NaN)) - t0;
        const witnessed = moved.map((e) => (back.get(ips.get(e.id)!) ?? NaN) - t0);
        const lastBack = Math.max(...witnessed);
        const cmphaDowntimes = moved.map((e) => e.downtimeMs ?? NaN);
        const oldFailover = Math.max(...moved.map((e) => e.activeAt ?? 0)) - inc.failureStartedAt;
        rows.push(`| ${label ? `${label}: ` : ''}${servers} servers, T = ${T} s${slowAnswerMs > 0 ? `, answers ${slowAnswerMs / 1000} s after ACTIVE` : ''}, run ${run} | ${s(inc.openedAt - t0)} | ${s(lastActive)} | ${s(lastVerified)} | ${s(lastBack)} (median ${s(median(witnessed))}) | ${s(lastBack - lastActive)} | `
          + `${s(median(cmphaDowntimes))} / ${s(Math.max(...cmphaDowntimes))} | ${s(oldFailover)} → ${s(inc.failoverMs ?? NaN)} | ${moved.filter((e) => e.state === 'verified').length}/${moved.length} verified (${moved.filter((e) => (e.watch?.length ?? 0) > 0).length} with an address watched), ${inc.status} |`);
        console.log(rows.at(-1));
      } finally {
        await w.close();
      }
    }
  }
} finally {
  redis.disconnect();
  await redisServer.stop();
}
console.log('\n| case | power cut → incident open | → last server ACTIVE in Nova\'s API | → last server verified by cmpha | → last address answering again (bench fping) | gap | cmpha downtime per instance, median / max | "failover took": before (first silent round → ACTIVE) → now (last sign of life → answering) | result |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) console.log(r);
