// One failed host holding 50 servers of mixed states on the simulator: time from the fence (the incident's
// recorded fence time) to the last server settled (verified, or finally failed, left or deleted), with what became
// of each. The same script runs on older trees (options they do not know are ignored: a state they do not
// create falls back to ACTIVE there, a policy or group they do not read moves those servers like the others).
// Usage: npx tsx bench/mixed-states.ts [--evacuate-seconds 1] [--concurrency 10] [--runs 3]
import { addServer } from '../src/sim/index.js';
import { parsePolicyRule } from '../src/evacuator/policy.js';
import { startRedis } from '../test/helpers/redis.js';
import { isEvacuate, pipelineWorld, waitClosed } from '../test/integration/pipeline/world.js';
import { newRedis } from '../test/unit/pipeline/harness.js';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : dflt;
}
const T = Number(arg('evacuate-seconds', '1'));
const concurrency = Number(arg('concurrency', '10'));
const runs = Number(arg('runs', '3'));

/** 50 servers: 30 ACTIVE, 8 SHUTOFF, 5 ERROR, 3 caught mid-reboot, 2 anti-affinity members, 2 amphorae. */
const MIX: Array<{ n: number; spec: Record<string, unknown> }> = [
  { n: 30, spec: { status: 'ACTIVE' } },
  { n: 8, spec: { status: 'SHUTOFF' } },
  { n: 5, spec: { status: 'ERROR' } },
  { n: 3, spec: { status: 'ACTIVE', taskState: 'rebooting_hard' } },
  { n: 2, spec: { status: 'ACTIVE', group: 'pair' } },
  { n: 2, spec: { status: 'ACTIVE', namePrefix: 'amphora-' } },
];

const redisServer = await startRedis();
const redis = newRedis(redisServer.url);
const rows: string[] = [];
try {
  for (let run = 1; run <= runs; run++) {
    const w = await pipelineWorld({
      hosts: 2, instancesPerHost: 0, spares: 1, evacuateSeconds: T, hostVcpus: 64, hostMemoryMb: 262144,
      redisUrl: redisServer.url,
      evacuation: {
        concurrency, verifyPollIntervalMs: 100, states: ['ACTIVE', 'ERROR', 'SHUTOFF'],
        // Ignored by trees without a policy.
        policy: [parsePolicyRule('name:amphora-* -> never')].filter((r) => typeof r !== 'string'),
      } as Record<string, unknown>,
    });
    try {
      const world = w.sim.world as unknown as { serverGroups?: unknown[] };
      if (Array.isArray(world.serverGroups)) {
        world.serverGroups.push({ id: 'g-pair', name: 'pair', policy: 'anti-affinity', members: [], projectId: '', userId: '' });
      }
      let i = 0;
      for (const m of MIX) {
        for (let k = 0; k < m.n; k++, i++) {
          const { namePrefix, group, ...spec } = m.spec as { namePrefix?: string; group?: string };
          const canGroup = group !== undefined && Array.isArray(world.serverGroups);
          addServer(w.sim.world, { host: 'compute1', flavor: 'm1.tiny', name: `${namePrefix ?? 'vm'}${i}`, ...spec, ...(canGroup ? { group } : {}) } as never);
        }
      }
      await w.control('compute1', 'power-off');
      await w.waitNovaDown('compute1');
      const r = w.recovery(redis);
      await r.startWorkers();
      const id = `mixed-${run}`;
      await r.opener.open({ id, host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
      const inc = await waitClosed(r, id, 600_000);
      const fencedAt = inc.fence?.at ?? inc.openedAt;
      const settledAt = Math.max(...inc.instances.map((e) => e.verifiedAt ?? e.finishedAt ?? 0), fencedAt);
      const byState = new Map<string, number>();
      for (const e of inc.instances) byState.set(e.state, (byState.get(e.state) ?? 0) + 1);
      const states = [...byState].sort().map(([s, n]) => `${n} ${s}`).join(', ');
      const posts = (await w.calls()).filter(isEvacuate).length;
      rows.push(`| run ${run} | ${((settledAt - fencedAt) / 1000).toFixed(2)} s | ${states} | ${posts} | ${inc.status} |`);
      console.log(rows.at(-1));
    } finally {
      await w.close();
    }
  }
} finally {
  redis.disconnect();
  await redisServer.stop();
}
console.log(`\n50 servers, T = ${T} s, concurrency ${concurrency}\n| run | fence → last settled | servers | evacuate calls | incident |\n| --- | --- | --- | --- | --- |`);
for (const r of rows) console.log(r);
