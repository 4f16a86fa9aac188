// Scenario 2: only nova-compute dies on compute2; the host and its servers still answer. Nova reports the
// service down, but cmpha must not fence or evacuate: it raises an agent-down alert.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CmphaHarness } from './cmpha-harness.js';
import { answers, fixedIps, ipmi, labHost, LabNova, powerOffRequests, readLab, resetLab, until, type NovaServer } from './lab.js';

const lab = readLab();
let nova: LabNova;
let cmpha: CmphaHarness;
let server: NovaServer;

describe('real Nova: nova-compute dies on a live host', () => {
  beforeAll(async () => {
    nova = await LabNova.connect(lab);
    await resetLab(nova);
    server = await nova.boot('app-1', 'compute2');
    cmpha = await CmphaHarness.start(lab, { name: 'agent-down' });
    await new Promise((r) => setTimeout(r, 12_000));
  }, 600_000);

  afterAll(async () => {
    await cmpha?.stop();
    await labHost('compute-start', 'compute2');
  });

  it('stop only nova-compute on compute2: Nova says down, cmpha alerts agent-down, nothing is fenced or moved', async () => {
    const t0 = Date.now();
    await labHost('compute-stop', 'compute2');
    await until('Nova reports compute2 down', 180_000, async () => (await nova.service('compute2')).state === 'down', 1000);
    const alert = await cmpha.waitForAlert('agent-down', 'compute2', 120_000);
    expect(alert.severity).toBe('warning');
    expect(alert.text + alert.title).toMatch(/nova-compute/i);
    // A few more detector rounds, to see that nothing follows the alert.
    await new Promise((r) => setTimeout(r, 15_000));

    expect(await ipmi(lab, 'compute2', 'chassis', 'power', 'status')).toBe('Chassis Power is on');
    expect(powerOffRequests(lab, 'compute2', t0)).toBe(0);
    expect(await answers(lab.mgmtIp.compute2)).toBe(true);
    expect(await answers(fixedIps(server)[0]!)).toBe(true);
    const svc = await nova.service('compute2');
    expect(svc).toMatchObject({ state: 'down', forced_down: false, status: 'enabled' });
    const now = await nova.server(server.id);
    expect(now).toMatchObject({ status: 'ACTIVE', 'OS-EXT-SRV-ATTR:host': 'compute2' });
    expect(await nova.evacuations(server.id)).toEqual([]);
    expect((await cmpha.incidents()).filter((i) => i.host === 'compute2')).toEqual([]);
    expect(cmpha.alerts.filter((a) => a.event.startsWith('incident-') || a.event === 'fence-failed')).toEqual([]);
  }, 420_000);
});
