// Scenario 1: compute1 loses power (through its BMC) with servers on it, ACTIVE and one ERROR; the real cmpha
// daemon must fence, force down, enable the spare and evacuate, and Nova must say so.
// Scenario 3: compute1 powered back on with `cmpha host restore compute1 --power-on --yes`.
// Everything is asserted on what Nova, the BMC and fping report, not on what cmpha believes.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CmphaHarness, REPO } from './cmpha-harness.js';
import { answers, fixedIps, ipmi, LabNova, readLab, resetLab, run, SPARE, until, type NovaServer } from './lab.js';

const lab = readLab();
let nova: LabNova;
let cmpha: CmphaHarness;
const servers: NovaServer[] = [];
let powerOffAt = 0;

describe('real Nova: a compute host loses power', () => {
  beforeAll(async () => {
    nova = await LabNova.connect(lab);
    await resetLab(nova);
    for (const name of ['web-1', 'web-2', 'db-1']) servers.push(await nova.boot(name, 'compute1'));
    // One server in ERROR, as after a failed operation: it has a host and must be moved too.
    const reset = await nova.rest.nova('POST', `/servers/${servers[2]!.id}/action`, { 'os-resetState': { state: 'error' } });
    expect(reset.status).toBe(202);
    cmpha = await CmphaHarness.start(lab, { name: 'failover' });
  }, 600_000);

  afterAll(async () => {
    await cmpha?.stop();
  });

  it('the servers run on compute1 and answer ping there', async () => {
    const db = await nova.server(servers[2]!.id);
    expect(db?.status).toBe('ERROR');
    for (const s of servers) {
      const ip = fixedIps(s)[0]!;
      expect(await answers(ip), `${s.name} ${ip}`).toBe(true);
    }
    // Let cmpha see the host healthy for a few rounds (it learns which instance IPs answer).
    await new Promise((r) => setTimeout(r, 12_000));
    expect(cmpha.alerts.filter((a) => a.host === 'compute1')).toEqual([]);
  }, 60_000);

  it('power off compute1 through its BMC: cmpha fences, forces down, enables the spare, evacuates every server to it', async () => {
    powerOffAt = Date.now();
    expect(await ipmi(lab, 'compute1', 'chassis', 'power', 'off')).toContain('Down/Off');
    expect(await ipmi(lab, 'compute1', 'chassis', 'power', 'status')).toBe('Chassis Power is off');

    const lastActive = await until('every server ACTIVE on the spare', 420_000, async () => {
      const now = await Promise.all(servers.map((s) => nova.server(s.id)));
      return now.every((s) => s?.status === 'ACTIVE' && s['OS-EXT-SRV-ATTR:host'] === SPARE && s['OS-EXT-STS:task_state'] === null) ? Date.now() : undefined;
    }, 500);

    for (const s of servers) {
      const migs = await until(`${s.name}'s evacuation done`, 60_000, async () => {
        const m = await nova.evacuations(s.id);
        return m.every((x) => x.status === 'done' || x.status === 'completed') ? m : undefined;
      });
      expect(migs, `${s.name}: exactly one evacuation`).toHaveLength(1);
      expect(migs[0]).toMatchObject({ source_compute: 'compute1', dest_compute: SPARE, migration_type: 'evacuation' });
    }
    const failed = await nova.service('compute1');
    expect(failed.forced_down).toBe(true);
    expect(failed.state).toBe('down');
    expect(failed.status).toBe('disabled');
    expect(failed.disabled_reason ?? '').toMatch(/^cmpha/);
    const spare = await nova.service(SPARE);
    expect(spare.status).toBe('enabled');
    // The moved servers answer from the spare's namespace; compute1 stays dark.
    for (const s of servers) expect(await answers(fixedIps(s)[0]!), s.name).toBe(true);
    expect(await answers(lab.mgmtIp.compute1)).toBe(false);

    const incidents = await until('cmpha closed its incident', 120_000, async () => {
      const all = await cmpha.incidents();
      return all.some((i) => i.host === 'compute1' && i.status === 'resolved') ? all : undefined;
    });
    expect(incidents.filter((i) => i.host === 'compute1')).toHaveLength(1);
    await cmpha.waitForAlert('incident-resolved', 'compute1', 60_000);
    record(incidents.find((i) => i.host === 'compute1')!, lastActive);
  }, 600_000);

  it('power on + `cmpha host restore compute1 --power-on --yes`: the service is up, not forced down, enabled', async () => {
    const r = await run(process.execPath, [path.join(REPO, 'bin/cmpha.js'), 'host', 'restore', 'compute1', '--power-on', '--yes', '--wait', '5m', '--config', cmpha.configPath], { timeoutMs: 420_000 });
    expect(r.code, `cmpha host restore:\n${r.stdout}\n${r.stderr}`).toBe(0);
    expect(await ipmi(lab, 'compute1', 'chassis', 'power', 'status')).toBe('Chassis Power is on');
    const svc = await nova.service('compute1');
    expect(svc).toMatchObject({ state: 'up', forced_down: false, status: 'enabled' });
    const migs = (await nova.evacuations()).filter((m) => m.source_compute === 'compute1');
    expect(migs.every((m) => m.status === 'completed')).toBe(true);
    expect(await answers(lab.mgmtIp.compute1)).toBe(true);
  }, 480_000);
});

/** Writes scenario 1's timings, from the power-off, to state/failover-timings.json (docs/benchmarks.md). */
function record(incident: Awaited<ReturnType<CmphaHarness['incidents']>>[number], lastActive: number): void {
  const at = (t: number | undefined) => (t === undefined ? null : Math.round(t - powerOffAt) / 1000);
  const lastOf = (step: string) => Math.max(...incident.timeline.filter((e) => e.step === step).map((e) => e.at));
  const accepted = incident.instances.map((i) => i.acceptedAt ?? i.requestedAt ?? 0);
  const verified = incident.instances.map((i) => i.verifiedAt ?? 0);
  const out = {
    reportInterval: lab.reportInterval,
    serviceDownTime: lab.serviceDownTime,
    servers: servers.length,
    seconds: {
      detected: at(incident.openedAt),
      fenced: at(incident.fence?.at),
      forcedDown: at(lastOf('force-down')),
      spareEnabled: at(lastOf('spare')),
      lastEvacuateAccepted: at(Math.max(...accepted)),
      lastVerified: at(Math.max(...verified)),
      lastActiveInNova: at(lastActive),
    },
    cmphaFailoverMs: incident.failoverMs ?? null,
    timeline: incident.timeline.map((e) => ({ t: at(e.at), step: e.step, message: e.message })),
  };
  writeFileSync(path.join(lab.dir, 'state/failover-timings.json'), `${JSON.stringify(out, null, 2)}\n`);
}
