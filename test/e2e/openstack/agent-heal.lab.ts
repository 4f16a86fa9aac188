// Scenario 2b: nova-compute dies on compute2 while the host and its server still answer, and cmpha has a
// remediation command: the lab's own way of starting that host's agent (lab-host.sh compute-start {host}).
// cmpha must restart it, see Nova's heartbeat advance again, and page nobody; nothing is fenced or moved.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CmphaHarness } from './cmpha-harness.js';
import { answers, fixedIps, ipmi, LAB_SRC, labHost, LabNova, powerOffRequests, readLab, resetLab, until, type NovaServer } from './lab.js';

const lab = readLab();
let nova: LabNova;
let cmpha: CmphaHarness;
let server: NovaServer;

/** cmpha's JSON log lines about remediation of `host`. */
function remediationLog(host: string): Array<{ level: number; time: number; msg: string }> {
  return readFileSync(cmpha.logFile, 'utf8').split('\n').flatMap((l) => {
    try {
      const j = JSON.parse(l) as { component?: string; host?: string; level: number; time: number; msg: string };
      return j.component === 'remediation' && j.host === host ? [j] : [];
    } catch {
      return [];
    }
  });
}

describe('real Nova: nova-compute dies on a live host and cmpha restarts it', () => {
  beforeAll(async () => {
    nova = await LabNova.connect(lab);
    await resetLab(nova);
    server = await nova.boot('app-heal', 'compute2');
    cmpha = await CmphaHarness.start(lab, {
      name: 'agent-heal',
      settings: {
        // The template is split into argv and run without a shell; {host} comes from Nova.
        'remediation.agent_command': `bash ${path.join(LAB_SRC, 'lab-host.sh')} compute-start {host}`,
        'remediation.timeout': '30s',
        'remediation.tries': '2',
        'remediation.retry_delay': '10s',
        'remediation.heartbeat_wait': '45s',
      },
    });
    await cmpha.learnHeartbeats(nova, ['compute2']);
  }, 600_000);

  afterAll(async () => {
    await cmpha?.stop();
    await labHost('compute-start', 'compute2');
  });

  it('kill nova-compute on compute2: cmpha runs the command, the heartbeat advances again, no page, nothing fenced or moved', async () => {
    const t0 = Date.now();
    const before = await nova.service('compute2');
    await labHost('compute-stop', 'compute2', 'KILL');

    // cmpha restarts the agent: the lab's pid file names a new, running nova-compute.
    const healed = await until('cmpha reports compute2 healed', 240_000, async () =>
      remediationLog('compute2').find((l) => l.level === 30 && /reports again/.test(l.msg)), 1000);
    expect(healed.msg).toMatch(/after 1 run/);
    const svc = await until('Nova reports compute2 up with a newer heartbeat', 120_000, async () => {
      const s = await nova.service('compute2');
      return s.state === 'up' && s.updated_at !== before.updated_at ? s : undefined;
    }, 1000);
    expect(svc).toMatchObject({ state: 'up', forced_down: false, status: 'enabled' });
    // The lab's pid file holds "PID START_TIME".
    const pid = Number(readFileSync(path.join(lab.dir, 'run/nova-compute-compute2.pid'), 'utf8').trim().split(/\s+/)[0]);
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toMatch(/nova-compute/);

    // Some more rounds: the heartbeat keeps coming, nobody is paged.
    await cmpha.rounds(20);
    expect(cmpha.alerts.filter((a) => a.host === 'compute2'), JSON.stringify(cmpha.alerts)).toEqual([]);
    expect(remediationLog('compute2').filter((l) => l.level >= 50)).toEqual([]);
    expect(await ipmi(lab, 'compute2', 'chassis', 'power', 'status')).toBe('Chassis Power is on');
    expect(powerOffRequests(lab, 'compute2', t0)).toBe(0);
    expect(await answers(fixedIps(server)[0]!)).toBe(true);
    expect(await nova.server(server.id)).toMatchObject({ status: 'ACTIVE', 'OS-EXT-SRV-ATTR:host': 'compute2' });
    expect(await nova.evacuations(server.id)).toEqual([]);
    expect((await cmpha.incidents()).filter((i) => i.host === 'compute2')).toEqual([]);

    const started = remediationLog('compute2').find((l) => l.level === 40)!;
    writeFileSync(path.join(lab.dir, 'state/agent-heal-timings.json'), `${JSON.stringify({
      reportInterval: lab.reportInterval,
      seconds: { remediationStarted: (started.time - t0) / 1000, healed: (healed.time - t0) / 1000 },
    }, null, 2)}\n`);
  }, 480_000);
});
