import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSim, type RunningSim } from '../../../src/sim/index.js';
import { allActiveOn, isEvacuatePost, movableServers, simCalls, startCmphaRun, until, writeRunConfig, type CmphaRun } from '../../helpers/cmpha-process.js';
import { openstackCli } from '../../helpers/openstack-cli.js';
import { freePort } from '../../helpers/ports.js';
import { ProcessGroup } from '../../helpers/processes.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';

// Segments made through Masakari's API drive the recovery: Debian's openstack client (python3-masakariclient)
// creates a segment on a real `cmpha run` (no [segment:NAME] in its file, no [evacuation] spare_hosts), adds
// compute1 and compute3 with compute3 reserved; compute1 then loses power in the simulated cloud, and its servers
// are evacuated to compute3, named as their target, because the segment says so. compute2, in a segment the
// client disabled, loses power too and is not recovered.
const group = new ProcessGroup();
const dir = mkdtempSync(path.join(tmpdir(), 'cmpha-segrec-'));
const TOKEN = 'segment-operator-token-0000';
let redis: RedisServer;
let sim: RunningSim;
let run: CmphaRun;
let apiPort: number;
let openstack: ReturnType<typeof openstackCli>;

const ok = (r: { code: number | null; out: string; err: string }) => {
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  return r.out;
};

beforeAll(async () => {
  redis = await startRedis();
  sim = await runSim({ hosts: 6, instancesPerHost: 2, spares: 0, reportIntervalSeconds: 1, serviceDownTimeSeconds: 6, evacuateSeconds: 1, seed: 28 });
  apiPort = await freePort();
  const tokenFile = path.join(dir, 'operators.token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const cfg = await writeRunConfig(sim, {
    prefix: `cmpha-segrec-${process.pid}`, redis: [`url = ${redis.url}`],
    extra: ['[api]', 'enabled = true', `listen = 127.0.0.1:${apiPort}`, `write_token_files = ${tokenFile}`],
  });
  run = startCmphaRun(group, cfg);
  await until(async () => ((await (await fetch(`http://127.0.0.1:${run.metricsPort}/readyz`)).json()) as { checks?: { role?: string } }).checks?.role === 'leader', 60_000, 'cmpha to lead');
  openstack = openstackCli({ endpoint: `http://127.0.0.1:${apiPort}/v1`, token: TOKEN, home: dir });
}, 120_000);

afterAll(async () => {
  await group.stopAll();
  await sim?.close();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('segments made with openstack segment ... drive the recovery', () => {
  it('a failed host\'s servers go to its segment\'s reserved host; a disabled segment\'s host is not recovered', async () => {
    ok(await openstack('segment', 'create', 'rackA', 'rh_priority', 'COMPUTE'));
    ok(await openstack('segment', 'host', 'create', 'compute1', 'COMPUTE', 'SSH', 'rackA'));
    ok(await openstack('segment', 'host', 'create', 'compute3', 'COMPUTE', 'SSH', 'rackA', '--reserved', 'True'));
    ok(await openstack('segment', 'create', 'rackB', 'auto', 'COMPUTE'));
    ok(await openstack('segment', 'host', 'create', 'compute2', 'COMPUTE', 'SSH', 'rackB'));
    ok(await openstack('segment', 'update', 'rackB', '--is_enabled', 'False'));
    const hosts = JSON.parse(ok(await openstack('segment', 'host', 'list', 'rackA', '-f', 'json'))) as Array<{ name: string; reserved: boolean }>;
    expect(hosts.map((h) => [h.name, h.reserved])).toEqual([['compute1', false], ['compute3', true]]);

    const movable = movableServers(sim, 'compute1');
    expect(movable.length).toBeGreaterThan(0);
    await fetch(`${sim.controlUrl}/sim/hosts/compute1/power-off`, { method: 'POST' });
    await until(() => allActiveOn(sim, movable, 'compute3'), 120_000, `compute1's servers ACTIVE on compute3; cmpha's log: ${run.logs().slice(-3000)}`);
    const evacuations = (await simCalls(sim)).filter(isEvacuatePost);
    expect(evacuations.map((c) => (c.body as { evacuate: { host?: string } }).evacuate.host)).toEqual(movable.map(() => 'compute3'));

    const incidents = await (await fetch(`http://127.0.0.1:${apiPort}/v1/incidents`, { headers: { 'X-Auth-Token': TOKEN } })).json() as { incidents: Array<{ id: string; host: string }> };
    expect(incidents.incidents.map((i) => i.host)).toEqual(['compute1']);
    const incident = await (await fetch(`http://127.0.0.1:${apiPort}/v1/incidents/${incidents.incidents[0]!.id}`, { headers: { 'X-Auth-Token': TOKEN } })).json() as { incident: { timeline: Array<{ step: string; message: string }> } };
    expect(incident.incident.timeline.filter((t) => t.step === 'spare').map((t) => t.message)).toContain('segment rackA recovers with rh_priority: reserved hosts compute3 first, then the scheduler');
    // compute2 loses power once compute1 is recovered (two at once out of six would be a storm).
    await fetch(`${sim.controlUrl}/sim/hosts/compute2/power-off`, { method: 'POST' });
    type HostRow = { host: string; action: string; held?: string };
    let compute2: HostRow | undefined;
    await until(async () => {
      const rows = await (await fetch(`http://127.0.0.1:${apiPort}/v1/hosts`, { headers: { 'X-Auth-Token': TOKEN } })).json() as { hosts: HostRow[] };
      compute2 = rows.hosts.find((h) => h.host === 'compute2');
      return compute2?.action === 'blocked-ha-off';
    }, 60_000, 'compute2 held back by its disabled segment');
    expect(compute2!.held).toBe('compute2 is in failover segment rackB, which is disabled (enabled = false): its hosts are not recovered');
    expect((await simCalls(sim)).filter(isEvacuatePost)).toHaveLength(movable.length);
  }, 300_000);
});
