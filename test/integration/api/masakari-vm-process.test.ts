import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../../../src/api/index.js';
import { startMasakariIntake } from '../../../src/app/masakari-parts.js';
import { loadConfig } from '../../../src/config/load.js';
import { Secret } from '../../../src/config/secret.js';
import type { Config } from '../../../src/config/types.js';
import type { HostReport, RoundReport } from '../../../src/detector/types.js';
import { IncidentStore } from '../../../src/incidents/incident-store.js';
import { enqueue } from '../../../src/masakari/intake.js';
import { createOpenStack } from '../../../src/openstack/index.js';
import { createAgentRemediator } from '../../../src/remediation/agent-remediator.js';
import { parseCommandTemplate } from '../../../src/shared/command-template.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { runSim, type RunningSim } from '../../../src/sim/index.js';
import { computeOf } from '../../helpers/compute.js';
import { RecordingNotifier } from '../../helpers/recording-notifier.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';

// masakari-monitors' PROCESS and VM notifications through cmpha's API, acted on by the intake the controller runs,
// against the simulated Nova (os-stop / os-start) and a real Redis.
const WRITE = 'monitor-writer-token-0000';
const PREFIX = 'masakari-it';
let redisServer: RedisServer;
let redis: Redis;
let sim: RunningSim;
let api: ApiServer;
let floodApi: ApiServer;
let intake: { stop(): Promise<void> };
let config: Config;
let compute: ReturnType<typeof computeOf>;
let dir: string;
const notifier = new RecordingNotifier();
const probes: string[] = [];

function host(name: string): HostReport {
  return { host: name, zone: 'nova', verdict: 'healthy', action: 'none', evidence: { host: name, reasons: [], mgmt: { ip: null } } as unknown as HostReport['evidence'] };
}
const round = (): RoundReport => ({
  round: 1, kind: 'round', blindReason: null, startedAt: Date.now(), durationMs: 5, leader: true, dryRun: false, isolated: false, isolationReason: null, probeFailed: null,
  stormBrake: { active: false, reason: null, since: null, overridden: false, count: 0 },
  hosts: sim.world.hostList.map((h) => host(h.name)),
});

async function post(server: ApiServer, notification: Record<string, unknown>) {
  const res = await fetch(`http://127.0.0.1:${server.port}/v1/notifications`, {
    method: 'POST', headers: { 'X-Auth-Token': WRITE, 'Content-Type': 'application/json' }, body: JSON.stringify({ notification }),
  });
  return { status: res.status, body: await res.json() as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
}
const vm = (hostname: string, instance: string, vir = 'STOPPED_FAILED', event = 'LIFECYCLE', at = new Date()) => ({
  type: 'VM', hostname, generated_time: at.toISOString(), payload: { event, instance_uuid: instance, vir_domain_event: vir },
});

async function get(p: string) {
  const res = await fetch(`http://127.0.0.1:${api.port}${p}`, { headers: { 'X-Auth-Token': WRITE } });
  return await res.json() as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** The notification once cmpha has decided about it. */
async function settled(uuid: string, timeoutMs = 60_000): Promise<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const n = (await get(`/v1/notifications/${uuid}`)).notification;
    if (n.status !== 'new' && n.status !== 'running') return n;
    if (Date.now() > deadline) throw new Error(`notification ${uuid} still ${n.status}: ${n.message}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function addServer(hostName: string, ha: boolean): Promise<string> {
  const res = await fetch(`${sim.controlUrl}/sim/servers`, { method: 'POST', body: JSON.stringify({ host: hostName, metadata: ha ? { HA_Enabled: 'True' } : {} }) });
  const body = await res.json() as { server: { id: string } };
  // The simulated boot takes a moment.
  for (let i = 0; i < 100; i++) {
    const s = await compute.guest(body.server.id);
    if (s?.status === 'ACTIVE') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return body.server.id;
}

beforeAll(async () => {
  redisServer = await startRedis();
  redis = new Redis(redisServer.url);
  sim = await runSim({ hosts: 3, instancesPerHost: 1, spares: 0, reportIntervalSeconds: 0.5, serviceDownTimeSeconds: 2, bootSeconds: 0.2 });
  dir = mkdtempSync(path.join(tmpdir(), 'cmpha-masakari-'));
  const script = path.join(dir, 'start-agent.mjs');
  // What `systemctl restart nova-compute` does to the simulator: its agent reports again.
  writeFileSync(script, 'const [url, host] = process.argv.slice(2);\nconst r = await fetch(`${url}/sim/hosts/${host}/nova-compute/start`, { method: "POST" });\nprocess.exit(r.ok ? 0 : 1);\n');
  const loaded = await loadConfig({ path: sim.configPath, env: {} });
  config = {
    ...loaded,
    redis: { ...loaded.redis, prefix: PREFIX },
    instanceFailure: { enabled: true, haMetadata: { key: 'HA_Enabled', value: 'True' }, allServers: false, maxRestarts: 2, restartWindowMs: 3_600_000, startTimeoutMs: 20_000, pollIntervalMs: 100 },
    // compute1 has a remediation command; compute2 has none.
    remediation: { ...loaded.remediation, agentCommand: undefined, tries: 1, heartbeatWaitMs: 10_000, retryDelayMs: 0 },
    hosts: { ...loaded.hosts, compute1: { ...loaded.hosts.compute1!, agentCommand: parseCommandTemplate(`${process.execPath} ${script} ${sim.controlUrl} {host}`, 'test') } },
  };
  const { nova } = createOpenStack(config.cloud, { logger: silentLogger, retryBaseDelayMs: 20 });
  compute = computeOf(nova);
  const healer = createAgentRemediator({ config, heartbeats: compute, notifier, logger: silentLogger, pollMs: 200 });
  intake = startMasakariIntake({
    config, redis, compute, incidents: new IncidentStore(redis, PREFIX), notifier, healer, logger: silentLogger, pollMs: 50,
    probe: (h) => { probes.push(h); }, mgmtIp: () => null, isLeader: () => true,
  });
  const base = {
    redis, prefix: PREFIX, lastRound: round, hosts: config.hosts, logger: silentLogger, probe: { requestProbe: () => undefined },
    masakari: { submit: (uuid: string) => enqueue(redis, PREFIX, uuid) },
  };
  const tokens = [{ name: 'monitors', role: 'write' as const, secret: new Secret(WRITE) }];
  api = await startApiServer({ ...base, config: { listen: { host: '127.0.0.1', port: 0 }, tokens, anonymousRead: false, notificationDuplicateWindowMs: 180_000 } });
  // A crash loop reports the same event minutes apart; here a 1 s window stands in for those minutes.
  floodApi = await startApiServer({ ...base, config: { listen: { host: '127.0.0.1', port: 0 }, tokens, anonymousRead: false, notificationDuplicateWindowMs: 1000 } });
}, 120_000);

afterAll(async () => {
  await intake?.stop();
  await api?.close();
  await floodApi?.close();
  await sim?.close();
  redis?.disconnect();
  await redisServer?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('VM notifications: instance-failure recovery', () => {
  it('restarts an HA-enabled server whose guest crashed: stop, start, running; one record with its timeline; the owner told', async () => {
    const id = await addServer('compute1', true);
    const r = await post(api, vm('compute1', id));
    expect(r.status).toBe(202);
    const n = await settled(r.body.notification.notification_uuid);
    expect(n.status).toBe('finished');
    const rec = (await get(`/v1/vm-failures/${n.incident_id}`)).vmFailure;
    expect(rec).toMatchObject({ serverId: id, host: 'compute1', status: 'resolved' });
    expect(rec.timeline.map((t: { step: string }) => t.step)).toEqual(['notification', 'start', 'stop', 'stop', 'start', 'verify', 'done']);
    const calls = sim.http.calls.list().filter((c) => c.method === 'POST' && c.path.includes(id)).map((c) => Object.keys(c.body as object)[0]);
    expect(calls).toEqual(['os-stop', 'os-start']);
    expect(sim.world.servers.get(id)!.vmState).toBe('active');
    const told = notifier.events.find((e) => e.type === 'instance-restarted' && e.instances?.[0]?.id === id);
    expect(told?.instances?.[0]).toMatchObject({ userId: sim.world.servers.get(id)!.userId, state: 'restarted' });
  }, 120_000);

  it('ignores a server the cloud does not know, and one not marked HA_Enabled', async () => {
    const unknown = await settled((await post(api, vm('compute1', '3fa85f64-5717-4562-b3fc-2c963f66afa6'))).body.notification.notification_uuid);
    expect([unknown.status, unknown.message]).toEqual(['ignored', 'no server 3fa85f64-5717-4562-b3fc-2c963f66afa6 in the cloud: nothing to restart']);
    const plain = await addServer('compute1', false);
    const n = await settled((await post(api, vm('compute1', plain))).body.notification.notification_uuid);
    expect(n.status).toBe('ignored');
    expect(n.message).toContain('is not HA-enabled (metadata HA_Enabled=True missing)');
    expect(sim.world.servers.get(plain)!.vmState).toBe('active');
  }, 120_000);

  it('a flood of identical notifications is one recovery (duplicate window); two different events at once never recover one server twice', async () => {
    const id = await addServer('compute3', true);
    // A slow Nova keeps the first recovery under way while the second event arrives.
    await fetch(`${sim.controlUrl}/sim/faults`, { method: 'POST', body: JSON.stringify({ services: ['nova'], latencyMs: 400 }) });
    const at = new Date();
    const answers = await Promise.all(Array.from({ length: 8 }, () => post(api, vm('compute3', id, 'STOPPED_FAILED', 'LIFECYCLE', at))));
    expect(answers.map((a) => a.status).sort()).toEqual([202, 409, 409, 409, 409, 409, 409, 409]);
    expect(answers.find((a) => a.status === 409)!.body.conflictingRequest.message).toBe('Notification received from host compute3 of type VM is duplicate.');
    const second = await post(api, vm('compute3', id, 'IO_ERROR_REPORT', 'IO_ERROR', at));
    const outcomes = await Promise.all([answers.find((a) => a.status === 202)!, second].map((a) => settled(a.body.notification.notification_uuid)));
    expect(outcomes.map((o) => o.status).sort()).toEqual(['finished', 'ignored']);
    expect(outcomes.find((o) => o.status === 'ignored')!.message).toMatch(/a recovery of server .* is already under way/);
    const stops = sim.http.calls.list().filter((c) => c.method === 'POST' && c.path.includes(id) && Object.keys(c.body as object)[0] === 'os-stop');
    expect(stops).toHaveLength(1);
    await fetch(`${sim.controlUrl}/sim/faults`, { method: 'POST', body: JSON.stringify({ latencyMs: 0 }) });
  }, 120_000);

  it('leaves a server on a host under a host incident to the host recovery, noted in that incident', async () => {
    const id = await addServer('compute2', true);
    const incidents = new IncidentStore(redis, PREFIX);
    await incidents.create({ id: 'compute2-1', host: 'compute2', failureStartedAt: Date.now(), evidence: {} });
    const n = await settled((await post(api, vm('compute2', id))).body.notification.notification_uuid);
    expect([n.status, n.message, n.incident_id]).toEqual(['ignored', `host compute2 is under incident compute2-1: the host recovery handles server ${id}`, 'compute2-1']);
    expect((await incidents.get('compute2-1'))!.timeline.map((t) => t.message)).toContainEqual(expect.stringContaining(`left to this host recovery`));
    expect(sim.http.calls.list().filter((c) => c.method === 'POST' && c.path.includes(id))).toEqual([]);
  }, 120_000);

  it('a crash loop is bounded: max_restarts restarts in the window, then one page and no more restarts', async () => {
    const id = await addServer('compute1', true);
    const t0 = Date.now();
    const outcomes: Array<Record<string, any>> = []; // eslint-disable-line @typescript-eslint/no-explicit-any
    for (let i = 0; i < 4; i++) {
      const r = await post(floodApi, vm('compute1', id, 'STOPPED_FAILED', 'LIFECYCLE', new Date(t0 + i * 5000)));
      expect(r.status).toBe(202);
      outcomes.push(await settled(r.body.notification.notification_uuid));
    }
    expect(outcomes.map((o) => o.status)).toEqual(['finished', 'finished', 'error', 'error']);
    expect(outcomes[2]!.message).toContain('2 restarts of');
    expect(outcomes[2]!.message).toContain('([instance_failure] max_restarts = 2): not restarting it again');
    const pages = notifier.events.filter((e) => e.type === 'instance-failed' && e.instances?.[0]?.id === id);
    expect(pages).toHaveLength(1);
    expect(pages[0]!.severity).toBe('critical');
    const starts = sim.http.calls.list().filter((c) => c.method === 'POST' && c.path.includes(id) && Object.keys(c.body as object)[0] === 'os-start');
    expect(starts).toHaveLength(2);
  }, 180_000);
});

describe('PROCESS notifications: the agent-down path', () => {
  it('nova-compute stopped on a host with a remediation command: the command runs and the heartbeat comes back', async () => {
    await fetch(`${sim.controlUrl}/sim/hosts/compute1/nova-compute/stop`, { method: 'POST' });
    const r = await post(api, { type: 'PROCESS', hostname: 'compute1', generated_time: new Date().toISOString(), payload: { event: 'STOPPED', process_name: 'nova-compute' } });
    expect(r.status).toBe(202);
    const n = await settled(r.body.notification.notification_uuid);
    expect(n.status).toBe('finished');
    expect(n.message).toMatch(/nova-compute on compute1 reports again/);
    expect(probes).toContain('compute1');
    expect(notifier.events.filter((e) => e.type === 'agent-down' && e.host === 'compute1')).toEqual([]);
  }, 120_000);

  it('nova-compute stopped on a host without one pages at once; another process pages as process-down', async () => {
    const n = await settled((await post(api, { type: 'PROCESS', hostname: 'compute2', generated_time: new Date().toISOString(), payload: { event: 'STOPPED', process_name: 'nova-compute' } })).body.notification.notification_uuid);
    expect([n.status, n.message]).toEqual(['finished', 'no [remediation] agent_command for compute2: paged']);
    expect(notifier.events.filter((e) => e.type === 'agent-down' && e.host === 'compute2')).toHaveLength(1);
    const other = await settled((await post(api, { type: 'PROCESS', hostname: 'compute3', generated_time: new Date().toISOString(), payload: { event: 'STOPPED', process_name: 'libvirtd' } })).body.notification.notification_uuid);
    expect(other.message).toBe('libvirtd is not nova-compute: paged');
    expect(notifier.events.find((e) => e.type === 'process-down')?.summary).toBe('libvirtd stopped on compute3 and masakari-processmonitor could not restart it');
  }, 120_000);
});
