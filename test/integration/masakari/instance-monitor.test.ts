import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSim, type RunningSim } from '../../../src/sim/index.js';
import { simCalls, startCmphaRun, until, writeRunConfig, type CmphaRun } from '../../helpers/cmpha-process.js';
import { startLibvirt, writeInstanceMonitorConfig, type TestLibvirt } from '../../helpers/libvirt.js';
import { freePort } from '../../helpers/ports.js';
import { ProcessGroup } from '../../helpers/processes.js';
import { startRedis, type RedisServer } from '../../helpers/redis.js';

// Debian's masakari-instancemonitor watching a real libvirtd (the test's own, see test/helpers/libvirt.ts) that runs
// a tiny diskless QEMU guest under TCG whose UUID is a server the simulated Nova knows, on compute1. The guest's
// QEMU process is killed; libvirt reports the domain STOPPED_FAILED; the monitor sends its VM notification to a
// real `cmpha run` (built CLI) with the [api] settings docs/masakari.md gives operators (keystoneauth admin_token
// with one of cmpha's write tokens, read from the monitor's config file, never from argv); the leading cmpha stops
// and starts that server through Nova, and the VM failure record carries the timeline.
const group = new ProcessGroup();
const dir = mkdtempSync(path.join(tmpdir(), 'cmpha-im-'));
const TOKEN = 'instancemonitor-token-0000';
let redis: RedisServer;
let sim: RunningSim;
let libvirt: TestLibvirt;
let run: CmphaRun;
let apiPort: number;

async function api(p: string): Promise<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(`http://127.0.0.1:${apiPort}${p}`, { headers: { 'X-Auth-Token': TOKEN } });
  return await res.json() as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

beforeAll(async () => {
  redis = await startRedis();
  sim = await runSim({ hosts: 2, instancesPerHost: 1, spares: 0, reportIntervalSeconds: 0.5, serviceDownTimeSeconds: 6, bootSeconds: 0.2 });
  libvirt = await startLibvirt();
  apiPort = await freePort();
  const tokenFile = path.join(dir, 'masakari-monitors.token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const cfg = await writeRunConfig(sim, {
    prefix: `cmpha-im-${process.pid}`, redis: [`url = ${redis.url}`],
    extra: ['[api]', 'enabled = true', `listen = 127.0.0.1:${apiPort}`, `write_token_files = ${tokenFile}`, '[instance_failure]', 'poll_interval = 200ms'],
  });
  run = startCmphaRun(group, cfg);
  await until(async () => ((await (await fetch(`http://127.0.0.1:${run.metricsPort}/readyz`)).json()) as { checks?: { role?: string } }).checks?.role === 'leader', 60_000, 'cmpha to lead');
}, 120_000);

afterAll(async () => {
  await group.stopAll();
  await libvirt?.stop();
  await sim?.close();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('masakari-instancemonitor against cmpha', () => {
  it('a guest whose QEMU process is killed is restarted through Nova, with the VM failure record and its timeline', async () => {
    const created = await (await fetch(`${sim.controlUrl}/sim/servers`, { method: 'POST', body: JSON.stringify({ host: 'compute1', metadata: { HA_Enabled: 'True' } }) })).json() as { server: { id: string } };
    const id = created.server.id;
    await until(async () => sim.world.servers.get(id)?.vmState === 'active', 30_000, `server ${id} ACTIVE in the simulator`);
    const qemu = await libvirt.startGuest(id, 'instance-00000001');

    const { conf, log } = writeInstanceMonitorConfig(dir, { hostname: 'compute1', apiPort, token: TOKEN, libvirtUri: libvirt.uri });
    const monitor = group.start('masakari-instancemonitor', ['--config-file', conf]);
    expect(monitor.spawnargs.join(' ')).not.toContain(TOKEN);

    // The monitor has registered its callbacks once it logs an event: pausing and resuming the guest makes events
    // its filter drops (nothing is sent for them).
    await until(async () => {
      await libvirt.virsh('suspend', 'instance-00000001');
      await libvirt.virsh('resume', 'instance-00000001');
      return /libvirt Event Received/.test(readLog(log));
    }, 60_000, 'the instance monitor to receive libvirt events');

    process.kill(qemu, 'SIGKILL');

    let n: Record<string, any> | undefined; // eslint-disable-line @typescript-eslint/no-explicit-any
    await until(async () => {
      n = (await api('/v1/notifications?type=VM')).notifications?.find((x: { payload: { instance_uuid: string } }) => x.payload.instance_uuid === id);
      return n !== undefined && n.status !== 'new' && n.status !== 'running';
    }, 120_000, `the VM notification for ${id} settled; monitor log: ${readLog(log).slice(-1500)}`);
    expect(n).toMatchObject({
      type: 'VM', hostname: 'compute1', created_by: 'masakari-monitors', status: 'finished',
      payload: { event: 'LIFECYCLE', instance_uuid: id, vir_domain_event: 'STOPPED_FAILED' },
    });
    const rec = (await api(`/v1/vm-failures/${n!.incident_id}`)).vmFailure;
    expect(rec).toMatchObject({ serverId: id, host: 'compute1', status: 'resolved' });
    expect(rec.timeline.map((t: { step: string }) => t.step)).toEqual(['notification', 'start', 'stop', 'stop', 'start', 'verify', 'done']);
    const actions = (await simCalls(sim)).filter((c) => c.service === 'nova' && c.method === 'POST' && c.path.includes(id)).map((c) => Object.keys(c.body as object)[0]);
    expect(actions).toEqual(['os-stop', 'os-start']);
    expect(sim.world.servers.get(id)!.vmState).toBe('active');
  }, 240_000);
});

function readLog(file: string): string {
  try { return readFileSync(file, 'utf8'); } catch { return ''; }
}
