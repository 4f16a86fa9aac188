// Scenario (issue 26): with `[recovery] return_repaired_hosts = true`, compute1 loses power and is recovered (fenced
// through its BMC, forced down, disabled, its server evacuated to the spare). An operator then repairs it and powers
// it on through its BMC (ipmi_sim), nothing else: cmpha returns it by itself once nova-compute's heartbeat has been
// back and steady for steady_for: forced_down unset, enabled, each step in the closed incident's timeline (step
// `return`). No `cmpha host restore`.
// Asserted on what Nova and the BMC report, and on the incident record.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CmphaHarness } from './cmpha-harness.js';
import { ipmi, LabNova, readLab, resetLab, SPARE, until, type NovaServer } from './lab.js';

const lab = readLab();
let nova: LabNova;
let cmpha: CmphaHarness;
let server: NovaServer;

describe('real Nova: a fenced host, repaired and powered on, is returned by itself', () => {
  beforeAll(async () => {
    nova = await LabNova.connect(lab);
    await resetLab(nova);
    server = await nova.boot('app-r', 'compute1');
    cmpha = await CmphaHarness.start(lab, {
      name: 'repaired-host',
      settings: { 'recovery.return_repaired_hosts': 'true', 'recovery.steady_for': '20s', 'recovery.check_interval': '2s' },
    });
  }, 600_000);

  afterAll(async () => {
    await cmpha?.stop();
  });

  it('compute1 loses power: fenced, forced down, disabled, its server ACTIVE on the spare', async () => {
    expect(await ipmi(lab, 'compute1', 'chassis', 'power', 'off')).toContain('Down/Off');
    const done = await until('compute1\'s incident closed', 420_000, async () => {
      const i = (await cmpha.incidents()).find((x) => x.host === 'compute1');
      return i && ['resolved', 'partial', 'failed', 'aborted'].includes(i.status) ? i : undefined;
    }, 1000);
    expect(done.status).toBe('resolved');
    expect(await nova.server(server.id)).toMatchObject({ status: 'ACTIVE', 'OS-EXT-SRV-ATTR:host': SPARE });
    expect(await nova.service('compute1')).toMatchObject({ forced_down: true, status: 'disabled' });
    // Off, and it stays so: cmpha does not power a fenced host on (power_on_fenced_hosts is off).
    expect(await ipmi(lab, 'compute1', 'chassis', 'power', 'status')).toBe('Chassis Power is off');
  }, 480_000);

  it('powered on through its BMC, nothing else: returned once its heartbeat is steady, each step in the incident\'s timeline', async () => {
    const poweredOn = Date.now();
    expect(await ipmi(lab, 'compute1', 'chassis', 'power', 'on')).toContain('Up/On');
    const svc = await until('compute1 up, not forced down, enabled', 300_000, async () => {
      const s = await nova.service('compute1');
      return s.state === 'up' && !s.forced_down && s.status === 'enabled' ? s : undefined;
    }, 1000);
    expect(svc).toMatchObject({ state: 'up', forced_down: false, status: 'enabled' });
    const inc = (await cmpha.incidents()).find((x) => x.host === 'compute1')!;
    const returned = inc.timeline.filter((e) => e.step === 'return' && e.at >= poweredOn);
    const text = returned.map((e) => e.message).join('\n');
    expect(text).toMatch(/compute1's heartbeat has been back and steady for 20 s: returning it \(return_repaired_hosts\)/);
    expect(text).toMatch(/compute1 is back in service: enabled/);
    // Nothing was returned while the host was off.
    expect(inc.timeline.filter((e) => e.step === 'return' && e.at < poweredOn)).toEqual([]);
    // The evacuated server stays where it was moved; Nova's evacuation records are completed (the host cleaned up).
    expect(await nova.server(server.id)).toMatchObject({ status: 'ACTIVE', 'OS-EXT-SRV-ATTR:host': SPARE });
    expect((await nova.evacuations()).filter((m) => m.source_compute === 'compute1').every((m) => m.status === 'completed')).toBe(true);
    // The spare the incident enabled runs the server: it stays enabled.
    expect(await nova.service(SPARE)).toMatchObject({ status: 'enabled' });
  }, 360_000);
});
