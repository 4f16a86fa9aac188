// Scenario 4: cmpha evacuates before Nova sees the failed host's service down. A fault proxy swallows cmpha's
// force-down (and disable) of compute1 while reporting them done, so the evacuate reaches the real Nova while
// it still believes compute1's nova-compute up (its 60 s service_down_time has not run out). Nova answers 400
// "Compute service of compute1 is still in use."; cmpha must handle it and lose nothing: every server ends ACTIVE
// on another host with exactly one evacuation, none failed or duplicated.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CmphaHarness } from './cmpha-harness.js';
import { FaultProxy } from './fault-proxy.js';
import { ipmi, LabNova, readLab, resetLab, until, type NovaServer } from './lab.js';

const lab = readLab();
let nova: LabNova;
let proxy: FaultProxy;
let cmpha: CmphaHarness;
const servers: NovaServer[] = [];

describe('real Nova: evacuate requested before the service is down', () => {
  beforeAll(async () => {
    nova = await LabNova.connect(lab);
    await resetLab(nova);
    for (const name of ['q-1', 'q-2']) servers.push(await nova.boot(name, 'compute1'));
    const svc = await nova.service('compute1');
    const origin = (u: string) => new URL(u).origin;
    proxy = await FaultProxy.start({ keystoneUrl: origin(lab.admin.authUrl), novaUrl: origin(nova.rest.endpoint('compute')), serviceId: svc.id });
    // While Nova believes compute1 up, GET /os-hypervisors/detail at 2.88+ waits 60 s for its uptime over RPC
    // and then fails with 500, so cmpha's spare selection cannot finish inside Nova's 60 s service_down_time
    // and the evacuate would never meet the 400. With spare_count = 0 the scheduler chooses the target and no
    // hypervisor is listed; faster detection puts the evacuate well inside the window.
    cmpha = await CmphaHarness.start(lab, {
      name: 'evacuate-early', authUrl: proxy.authUrl,
      settings: { 'detector.heartbeat_timeout': '15s', 'detector.interval': '3s', 'evacuation.spare_count': '0' },
    });
    await new Promise((r) => setTimeout(r, 12_000));
  }, 600_000);

  afterAll(async () => {
    await cmpha?.stop();
    await proxy?.close();
  });

  it("Nova's 400 is handled: every server ends ACTIVE on another host, one evacuation each, nothing failed", async () => {
    const t0 = Date.now();
    expect(await ipmi(lab, 'compute1', 'chassis', 'power', 'off')).toContain('Down/Off');

    await until('every server ACTIVE on another host', 420_000, async () => {
      const now = await Promise.all(servers.map((s) => nova.server(s.id)));
      return now.every((s) => s?.status === 'ACTIVE' && s['OS-EXT-SRV-ATTR:host'] !== 'compute1' && s['OS-EXT-STS:task_state'] === null) || undefined;
    }, 1000);

    const refused = proxy.records.filter((r) => r.path.endsWith('/action') && r.status === 400);
    expect(refused.length, 'an evacuate met the real 400').toBeGreaterThan(0);
    expect(refused[0]!.responseBody).toContain('Compute service of compute1 is still in use.');
    expect(proxy.records.some((r) => r.faked)).toBe(true);
    for (const s of servers) {
      const migs = await nova.evacuations(s.id);
      expect(migs.map((m) => m.status), `${s.name}: one evacuation, done`).toEqual([expect.stringMatching(/^(done|completed)$/)]);
      // spare1 stays a disabled spare (spare_count = 0), so the scheduler can only pick compute2.
      expect(migs[0]).toMatchObject({ source_compute: 'compute1', dest_compute: 'compute2' });
    }
    const incident = await until('cmpha closed its incident', 120_000, async () =>
      (await cmpha.incidents()).find((i) => i.host === 'compute1' && i.closedAt !== undefined));
    expect(incident.status).toBe('resolved');
    expect(incident.instances.map((i) => i.state).sort()).toEqual(['verified', 'verified']);
    expect((await nova.service('compute1')).forced_down).toBe(true);

    writeFileSync(path.join(lab.dir, 'state/evacuate-early.json'), `${JSON.stringify({
      proxy: proxy.records.map((r) => ({ t: (r.at - t0) / 1000, ...r })),
      service: await nova.service('compute1'),
      incident: { status: incident.status, failoverMs: incident.failoverMs, timeline: incident.timeline.map((e) => ({ t: (e.at - t0) / 1000, step: e.step, message: e.message })) },
    }, null, 2)}\n`);
  }, 600_000);
});
