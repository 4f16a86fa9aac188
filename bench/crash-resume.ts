// A recovery worker SIGKILLed mid-evacuation and restarted at once, with the default 30 s job lock and stalled
// check: how long from the restarted worker being ready until it makes progress (the next server verified), and
// what the incident records as each evacuation's duration.
// Usage: npx tsx bench/crash-resume.ts [--servers 4] [--evacuate-seconds 1] [--worker test/helpers/recovery-worker.ts]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ProcessGroup, waitForLine } from '../test/helpers/processes.js';
import { startRedis } from '../test/helpers/redis.js';
import { isEvacuate, pipelineWorld, waitClosed, waitFor } from '../test/integration/pipeline/world.js';
import { newRedis } from '../test/unit/pipeline/harness.js';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : dflt;
}
const servers = Number(arg('servers', '4'));
const T = Number(arg('evacuate-seconds', '1'));
const workerScript = arg('worker', 'test/helpers/recovery-worker.ts');

const group = new ProcessGroup();
const redisServer = await startRedis();
const redis = newRedis(redisServer.url);
const dir = mkdtempSync(path.join(tmpdir(), 'cmpha-bench-'));
const w = await pipelineWorld({ hosts: 3, instancesPerHost: servers, spares: 1, evacuateSeconds: T, redisUrl: redisServer.url, evacuation: { concurrency: 1 } });
try {
  await w.control('compute1', 'power-off');
  await w.waitNovaDown('compute1');
  const spec = path.join(dir, 'spec.json');
  writeFileSync(spec, JSON.stringify({
    configPath: w.sim.configPath, redisUrl: redisServer.url, prefix: w.config.redis.prefix,
    evacuation: { concurrency: 1, verifyPollIntervalMs: 100, verifyTimeoutMs: 120_000, staggerMs: 0, maxPerMinute: 10_000 },
    fencing: { timeoutMs: 5000, pollIntervalMs: 100, attempts: 2 },
    tuning: { lockDurationMs: 30_000, stalledIntervalMs: 30_000, backoffMs: 200, unknownSettleMs: 1500 },
  }));
  const start = async () => {
    const child = group.start(process.execPath, ['--import', 'tsx', workerScript, spec], { cwd: process.cwd() });
    await waitForLine(child, /recovery worker \d+ ready/, 60_000);
    return child;
  };
  const r = w.recovery(redis);
  const first = await start();
  await r.opener.open({ id: 'bench-resume', host: 'compute1', failureStartedAt: Date.now(), evidence: {} });
  await waitFor('an evacuation to be accepted', async () => (await r.incidents.listInstances('bench-resume')).some((e) => e.state === 'evacuated'), 60_000, 20);
  await group.stop(first, 'SIGKILL');
  const killed = Date.now();
  const before = (await r.incidents.listInstances('bench-resume')).filter((e) => e.state === 'verified').length;
  await start();
  const ready = Date.now();
  await waitFor('progress after the restart', async () =>
    (await r.incidents.listInstances('bench-resume')).filter((e) => e.state === 'verified').length > before, 180_000, 100);
  const progress = Date.now();
  const inc = await waitClosed(r, 'bench-resume', 300_000);
  const evacuations = (await w.calls()).filter(isEvacuate).length;
  const took = inc.instances.map((e) => (e.evacuationMs ?? 0) / 1000);
  console.log('| worker | kill → restarted worker ready | ready → next server verified | evacuation durations recorded (max) | result |');
  console.log('| --- | --- | --- | --- | --- |');
  console.log(`| ${workerScript} | ${((ready - killed) / 1000).toFixed(1)} s | ${((progress - ready) / 1000).toFixed(1)} s | ${Math.max(...took).toFixed(1)} s | ${inc.status}, ${evacuations} evacuate calls for ${servers} servers |`);
} finally {
  await group.stopAll();
  await w.close();
  redis.disconnect();
  await redisServer.stop();
  rmSync(dir, { recursive: true, force: true });
}
