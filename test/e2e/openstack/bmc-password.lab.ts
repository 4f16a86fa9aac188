// Scenario (issue 24): compute1's BMC rejects cmpha's password; compute1 loses power and its incident waits for a
// fence. The host is then repaired outside cmpha (powered on: it answers, nova-compute reports again): the waiting
// incident must end `aborted`, with a notice. The operator fixes the password and restarts the controller; later
// compute1 loses power for real: a new incident must fence it and evacuate its servers to the spare.
// Asserted on what Nova, the BMC and fping report, and on the pages the webhook received.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CmphaHarness } from './cmpha-harness.js';
import { answers, fixedIps, ipmi, LabNova, powerOffRequests, readLab, resetLab, SPARE, until, type NovaServer } from './lab.js';

const lab = readLab();
let nova: LabNova;
let cmpha: CmphaHarness;
const servers: NovaServer[] = [];
const t: Record<string, number> = {};
const wrongPasswordFile = path.join(lab.dir, 'state/bmc-password-wrong');
const secondsSince = (from: number, to: number) => Math.round(to - from) / 1000;

describe('real Nova: BMC password wrong → host repaired → real power loss', () => {
  beforeAll(async () => {
    nova = await LabNova.connect(lab);
    await resetLab(nova);
    for (const name of ['app-1', 'app-2']) servers.push(await nova.boot(name, 'compute1'));
    writeFileSync(wrongPasswordFile, 'not-the-bmc-pw\n', { mode: 0o600 });
    cmpha = await CmphaHarness.start(lab, { name: 'bmc-password', settings: { 'host:compute1.password_file': wrongPasswordFile } });
    // A few healthy rounds: cmpha learns the heartbeat and which instance addresses answer.
    await new Promise((r) => setTimeout(r, 15_000));
    expect(cmpha.alerts.filter((a) => a.host === 'compute1')).toEqual([]);
  }, 600_000);

  afterAll(async () => {
    await cmpha?.stop();
  });

  it('power loss with a wrong BMC password: the incident waits for a fence, pages, and nothing is forced down', async () => {
    t.firstPowerOff = Date.now();
    expect(await ipmi(lab, 'compute1', 'chassis', 'power', 'off')).toContain('Down/Off');
    const page = await cmpha.waitForAlert('fence-failed', 'compute1', 180_000);
    t.fenceFailedPage = page.receivedAt;
    const [first] = (await cmpha.incidents()).filter((i) => i.host === 'compute1');
    expect(first?.status).toBe('awaiting_fence');
    const svc = await nova.service('compute1');
    expect(svc).toMatchObject({ forced_down: false, status: 'enabled' });
    expect(await nova.evacuations()).toEqual([]);
    // The test's own power-off is the only one the BMC accepted: cmpha's password was refused.
    expect(powerOffRequests(lab, 'compute1', t.firstPowerOff)).toBe(1);
  }, 300_000);

  it('the host is repaired (powered on by hand): the waiting incident is aborted, with a notice and what was seen', async () => {
    t.repaired = Date.now();
    expect(await ipmi(lab, 'compute1', 'chassis', 'power', 'on')).toContain('Up/On');
    const notice = await cmpha.waitForAlert('incident-aborted', 'compute1', 120_000);
    t.abortedPage = notice.receivedAt;
    const [first] = (await cmpha.incidents()).filter((i) => i.host === 'compute1');
    expect(first).toMatchObject({ status: 'aborted', error: { code: 'host_came_back' } });
    expect(first!.error!.message).toMatch(/host came back before it was fenced/);
    expect(first!.lifeSeen?.what).toMatch(/management IP 198\.19\.128\.11 answers|instance address|heartbeat moved/);
    expect(first!.timeline.some((e) => e.step === 'watch' && /showed life while its incident was awaiting_fence/.test(e.message))).toBe(true);
    expect(first!.fence).toBeUndefined();
    expect(await nova.evacuations()).toEqual([]);
    await until('Nova reports compute1 up again', 180_000, async () => (await nova.service('compute1')).state === 'up', 1000);
    t.novaUpAgain = Date.now();
  }, 300_000);

  it('password fixed, controller restarted, real power loss: a new incident fences compute1 and evacuates its servers', async () => {
    await cmpha.restart({ 'host:compute1.password_file': path.join(lab.dir, 'etc/bmc-password') });
    // Healthy rounds again before the failure (the new process learns the host afresh).
    await new Promise((r) => setTimeout(r, 15_000));
    for (const s of servers) expect(await answers(fixedIps(s)[0]!), s.name).toBe(true);

    t.secondPowerOff = Date.now();
    expect(await ipmi(lab, 'compute1', 'chassis', 'power', 'off')).toContain('Down/Off');
    const lastActive = await until('every server ACTIVE on the spare', 420_000, async () => {
      const now = await Promise.all(servers.map((s) => nova.server(s.id)));
      return now.every((s) => s?.status === 'ACTIVE' && s['OS-EXT-SRV-ATTR:host'] === SPARE && s['OS-EXT-STS:task_state'] === null) ? Date.now() : undefined;
    }, 500);
    t.lastActiveOnSpare = lastActive;
    for (const s of servers) {
      const migs = await until(`${s.name}'s evacuation done`, 60_000, async () => {
        const m = await nova.evacuations(s.id);
        return m.length > 0 && m.every((x) => x.status === 'done' || x.status === 'completed') ? m : undefined;
      });
      expect(migs, `${s.name}: exactly one evacuation`).toHaveLength(1);
    }
    expect(await nova.service('compute1')).toMatchObject({ forced_down: true, status: 'disabled' });
    const incidents = await until('the second incident resolved', 120_000, async () => {
      const all = (await cmpha.incidents()).filter((i) => i.host === 'compute1');
      return all.some((i) => i.status === 'resolved') ? all : undefined;
    });
    expect(incidents.map((i) => i.status).sort()).toEqual(['aborted', 'resolved']);
    const second = incidents.find((i) => i.status === 'resolved')!;
    expect(second.fence).toMatchObject({ driver: 'ipmi' });
    expect(second.instances.map((e) => e.state).sort()).toEqual(servers.map(() => 'verified'));
    t.resolved = second.closedAt ?? Date.now();
    t.secondOpened = second.openedAt;
    t.secondFenced = second.fence!.at;
    // Nothing was said about the waiting incident's host being dead in silence: every page names what happened.
    expect(cmpha.alerts.filter((a) => a.host === 'compute1').map((a) => a.event)).toEqual(expect.arrayContaining(['fence-failed', 'incident-aborted', 'incident-resolved']));
    const timings = {
      fenceFailedPageAfterPowerOff: secondsSince(t.firstPowerOff!, t.fenceFailedPage!),
      abortedPageAfterRepair: secondsSince(t.repaired!, t.abortedPage!),
      secondIncidentOpenedAfterPowerOff: secondsSince(t.secondPowerOff!, t.secondOpened!),
      secondFencedAfterPowerOff: secondsSince(t.secondPowerOff!, t.secondFenced!),
      lastServerActiveOnSpareAfterPowerOff: secondsSince(t.secondPowerOff!, t.lastActiveOnSpare!),
      resolvedAfterPowerOff: secondsSince(t.secondPowerOff!, t.resolved!),
    };
    writeFileSync(path.join(lab.dir, 'state/bmc-password-timings.json'), `${JSON.stringify(timings, null, 2)}\n`);
  }, 600_000);
});
