// Scenario 1 on the project's simulator, for comparison with the real lab (failover.lab.ts): the same three
// servers (one in ERROR), the same Nova timings (10 s reports, 60 s down time), the same cmpha detector and
// verification settings as the lab's cmpha.conf, the real cmpha daemon. Writes state/failover-sim-timings.json.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSim, type RunningSim } from '../../../src/sim/index.js';
import { CmphaHarness } from './cmpha-harness.js';
import { LAB_DIR, until } from './lab.js';
import { OsRest, request } from './os-rest.js';

let sim: RunningSim;
let cmpha: CmphaHarness;
let rest: OsRest;
const ids: string[] = [];

async function control<T>(method: string, p: string, body?: unknown): Promise<T> {
  const r = await request<T>(method, `${sim.controlUrl}${p}`, body === undefined ? {} : { body });
  if (r.status >= 300) throw new Error(`simulator ${method} ${p} → ${r.status} ${r.text}`);
  return r.body;
}

interface Srv { status: string; 'OS-EXT-SRV-ATTR:host': string | null; 'OS-EXT-STS:task_state': string | null }

describe('simulator: a compute host loses power (the lab scenario 1, for comparison)', () => {
  beforeAll(async () => {
    sim = await runSim({ hosts: 2, spares: 1, instancesPerHost: 0, reportIntervalSeconds: 10, serviceDownTimeSeconds: 60 });
    for (const [name, status] of [['web-1', 'ACTIVE'], ['web-2', 'ACTIVE'], ['db-1', 'ERROR']] as const) {
      ids.push((await control<{ server: { id: string } }>('POST', '/sim/servers', { name, host: 'compute1', status })).server.id);
    }
    const creds = await control<{ admin: { username: string; password: string } }>('GET', '/sim/credentials');
    rest = new OsRest({ authUrl: sim.authUrl, username: creds.admin.username, password: creds.admin.password, projectName: 'admin', userDomainName: 'Default', projectDomainName: 'Default' });
    cmpha = await CmphaHarness.start({ dir: LAB_DIR, cmphaConf: sim.configPath }, {
      name: 'failover-sim',
      settings: {
        'detector.heartbeat_timeout': '30s',
        'evacuation.verify_poll_interval': '1s', 'fencing.poll_interval': '1s', 'logging.format': 'json',
      },
    });
    await new Promise((r) => setTimeout(r, 12_000));
  }, 120_000);

  afterAll(async () => {
    await cmpha?.stop();
    await sim?.close();
  });

  it('power off compute1: every server ends ACTIVE on the spare', async () => {
    const t0 = Date.now();
    await control('POST', '/sim/hosts/compute1/power-off');
    const lastActive = await until('every server ACTIVE on spare1', 300_000, async () => {
      const now = await Promise.all(ids.map(async (id) => (await rest.novaOk<{ server: Srv }>('GET', `/servers/${id}`)).server));
      return now.every((s) => s.status === 'ACTIVE' && s['OS-EXT-SRV-ATTR:host'] === 'spare1' && s['OS-EXT-STS:task_state'] === null) ? Date.now() : undefined;
    }, 500);
    const incident = await until('the incident resolved', 60_000, async () => (await cmpha.incidents()).find((i) => i.host === 'compute1' && i.status === 'resolved'));
    expect(incident.instances).toHaveLength(3);
    const at = (t: number | undefined) => (t === undefined ? null : Math.round(t - t0) / 1000);
    const lastOf = (step: string) => Math.max(...incident.timeline.filter((e) => e.step === step).map((e) => e.at));
    writeFileSync(path.join(LAB_DIR, 'state/failover-sim-timings.json'), `${JSON.stringify({
      servers: ids.length,
      seconds: {
        detected: at(incident.openedAt), fenced: at(incident.fence?.at), forcedDown: at(lastOf('force-down')), spareEnabled: at(lastOf('spare')),
        lastEvacuateAccepted: at(Math.max(...incident.instances.map((i) => i.acceptedAt ?? i.requestedAt ?? 0))),
        lastVerified: at(Math.max(...incident.instances.map((i) => i.verifiedAt ?? 0))), lastActiveInNova: at(lastActive),
      },
      cmphaFailoverMs: incident.failoverMs ?? null,
    }, null, 2)}\n`);
  }, 360_000);
});
