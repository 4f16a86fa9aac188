/**
 * Failover milestones on the real-OpenStack lab (test/e2e/openstack, Debian's Nova Zed with Nova's default
 * report_interval 10 s and service_down_time 60 s) with cmpha's defaults: the real `cmpha run` daemon, the lab's
 * ipmi_sim BMCs, 4 servers on compute1, real fping into the hosts' namespaces. Two kinds of failure:
 *   power-off: the BMC cuts the power (the agent and every address vanish at once);
 *   hang:      the host freezes with its BMC still on (nova-compute SIGSTOPped, links down); cmpha must power it off.
 * Each run fails the host at a random phase of its heartbeat and times, from the failure: the start of the silence
 * as cmpha estimated it, the incident opened, the power read back off, the last server ACTIVE on the spare by Nova's
 * API, and each server's address answering again (fping from this process, every 250 ms). Between runs the lab is
 * put back with `resetLab` (power on, agent restarted, forced_down cleared once the host cleaned up).
 *
 *   bash bench/lab-failover.sh [--runs 3] [--kinds power-off,hang] [--json out.json]
 * (needs root and the lab: the .sh brings it up and down).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { CmphaHarness } from '../test/e2e/openstack/cmpha-harness.js';
import {
  answers, fixedIps, ipmi, labHost, LabNova, readLab, resetLab, sleep, SPARE, until, type NovaServer,
} from '../test/e2e/openstack/lab.js';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : dflt;
}
const runs = Number(arg('runs', '3'));
const kinds = arg('kinds', 'power-off,hang').split(',');
const jsonOut = arg('json', '');
const VICTIM = 'compute1';
const SERVERS = 4;

interface Milestones {
  silent: number | null; opened: number | null; fenced: number | null; lastActive: number | null;
  /** The last evacuate Nova accepted (cmpha's record), after the failure and after the fence confirmed. */
  lastAccepted: number | null; fenceToAccepted: number | null;
  /** Each server's first answer on the spare, and the last of them. */
  answering: Array<number | null>; lastAnswering: number | null;
  /** cmpha's own downtime per instance, seconds. */
  downtime: Array<number | null>;
  status: string; why?: string;
  /** The machine's 1-minute load average when the run ended (the lab shares the machine). */
  load: number;
}

const lab = readLab();

/** Freezes compute1 the way a hung kernel looks from outside: its agent stops, its links go dark, its BMC stays on. */
async function hang(): Promise<void> {
  // The lab's pid file holds "PID START_TIME".
  const pid = Number(readFileSync(path.join(lab.dir, `run/nova-compute-${VICTIM}.pid`), 'utf8').trim().split(/\s+/)[0]);
  process.kill(pid, 'SIGSTOP');
  await labHost('links-down', VICTIM);
}

async function fail(kind: string): Promise<void> {
  if (kind === 'power-off') {
    const out = await ipmi(lab, VICTIM, 'chassis', 'power', 'off');
    if (!/Down\/Off/.test(out)) throw new Error(`power off via the BMC: ${out}`);
  } else if (kind === 'hang') {
    await hang();
  } else {
    throw new Error(`unknown kind ${kind} (power-off, hang)`);
  }
}

async function once(nova: LabNova, kind: string, run: number): Promise<Milestones> {
  await resetLab(nova);
  const servers: NovaServer[] = [];
  for (let i = 0; i < SERVERS; i++) servers.push(await nova.boot(`bench-${kind}-${run}-${i}`, VICTIM));
  const ips = servers.map((s) => fixedIps(s)[0]!);
  const cmpha = await CmphaHarness.start(lab, { name: `bench-${kind}-${run}` });
  try {
    // A healthy stretch (baseline of answering addresses, heartbeat period learned), ending at a random phase.
    await sleep(25_000 + Math.random() * 10_000);
    if (cmpha.alerts.length > 0) throw new Error(`alerts before the failure: ${JSON.stringify(cmpha.alerts)}`);
    const failedAt = Date.now();
    await fail(kind);
    const s = (t: number | null | undefined) => (t === null || t === undefined ? null : Math.round(t - failedAt) / 1000);

    // From the moment compute1 is dark, an answer from a server's address comes from the spare.
    await until(`${VICTIM} silent`, 20_000, async () => !(await answers(lab.mgmtIp[VICTIM])), 100);
    const answering: Array<number | null> = ips.map(() => null);
    let watching = true;
    const watchers = ips.map(async (ip, i) => {
      while (watching && answering[i] === null) {
        if (await answers(ip)) answering[i] = Date.now();
        else await sleep(250);
      }
    });
    const lastActive = await until('every server ACTIVE on the spare', 300_000, async () => {
      const now = await Promise.all(servers.map((x) => nova.server(x.id)));
      return now.every((x) => x?.status === 'ACTIVE' && x['OS-EXT-SRV-ATTR:host'] === SPARE && x['OS-EXT-STS:task_state'] === null) ? Date.now() : undefined;
    }, 250);
    await Promise.race([Promise.all(watchers), sleep(120_000)]);
    watching = false;
    await Promise.all(watchers);

    const incident = await until('cmpha closed its incident', 180_000, async () =>
      (await cmpha.incidents()).find((i) => i.host === VICTIM && ['resolved', 'partial', 'failed', 'aborted'].includes(i.status)), 1000);
    const ev = incident.evidence as { silentForMs?: number; deadBy?: string; nova?: { says?: string; unchangedForMs?: number | null; heartbeatPeriodMs?: number } } | null;
    const silentAt = ev?.silentForMs !== undefined ? incident.openedAt - ev.silentForMs : null;
    const why = ev ? `dead by ${ev.deadBy ?? 'heartbeat'}, silent ${((ev.silentForMs ?? 0) / 1000).toFixed(1)} s, Nova ${ev.nova?.says}, updated_at unchanged ${((ev.nova?.unchangedForMs ?? 0) / 1000).toFixed(1)} s, period ${(ev.nova?.heartbeatPeriodMs ?? 0) / 1000} s` : undefined;
    const downtime = servers.map((x) => {
      const d = incident.instances.find((i) => i.id === x.id)?.downtimeMs;
      return d === undefined ? null : Math.round(d) / 1000;
    });
    const lastAns = answering.every((a) => a !== null) ? Math.max(...(answering as number[])) : null;
    const accepted = incident.instances.map((i) => i.acceptedAt);
    const lastAcc = accepted.length > 0 && accepted.every((a) => a !== undefined) ? Math.max(...(accepted as number[])) : null;
    const fencedAt = incident.fence?.at;
    return {
      silent: s(silentAt), opened: s(incident.openedAt), fenced: s(fencedAt), lastActive: s(lastActive),
      lastAccepted: s(lastAcc), fenceToAccepted: lastAcc !== null && fencedAt !== undefined ? Math.round(lastAcc - fencedAt) / 1000 : null,
      answering: answering.map(s), lastAnswering: s(lastAns), downtime, status: incident.status, ...(why ? { why } : {}), load: Math.round(loadavg()[0]! * 10) / 10,
    };
  } finally {
    await cmpha.stop();
  }
}

const nova = await LabNova.connect(lab);
const results: Record<string, Milestones[]> = {};
for (const kind of kinds) {
  results[kind] = [];
  for (let i = 0; i < runs; i++) {
    const m = await once(nova, kind, i);
    results[kind].push(m);
    console.log(`${kind} run ${i + 1}: silent ${m.silent} s, opened ${m.opened} s, fenced ${m.fenced} s, last evacuate accepted ${m.lastAccepted} s (${m.fenceToAccepted} s after the fence), last ACTIVE ${m.lastActive} s, `
      + `answering ${m.answering.join('/')} s (last ${m.lastAnswering} s), cmpha downtime ${m.downtime.join('/')} s (${m.status}; ${m.why ?? ''}; load average ${m.load})`);
    if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify(results, null, 2)}\n`);
  }
}
await resetLab(nova);

const stat = (xs: Array<number | null>) => {
  const v = xs.filter((x): x is number => x !== null).sort((a, b) => a - b);
  if (v.length === 0) return 'n/a';
  const med = v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
  return `${med.toFixed(1)} s / ${v.at(-1)!.toFixed(1)} s${v.length < xs.length ? ` (${xs.length - v.length} missing)` : ''}`;
};
console.log(`\nreal OpenStack lab (report_interval ${lab.reportInterval} s, service_down_time ${lab.serviceDownTime} s), ${SERVERS} servers, ${runs} runs per kind; median / worst after the failure\n`);
console.log(`| milestone | ${kinds.join(' | ')} |`);
console.log(`| --- | ${kinds.map(() => '---').join(' | ')} |`);
const rows: Array<[string, (m: Milestones) => Array<number | null>]> = [
  ['host silent (cmpha\'s estimate)', (m) => [m.silent]],
  ['incident opened', (m) => [m.opened]],
  ['power read back off', (m) => [m.fenced]],
  ['last evacuate accepted', (m) => [m.lastAccepted]],
  ['power read back off → last evacuate accepted', (m) => [m.fenceToAccepted]],
  ['last server ACTIVE (Nova\'s API)', (m) => [m.lastActive]],
  ['each server\'s address answering again (all servers, all runs)', (m) => m.answering],
  ['last server\'s address answering again', (m) => [m.lastAnswering]],
  ['cmpha\'s downtime per instance (all servers, all runs)', (m) => m.downtime],
];
for (const [label, pick] of rows) console.log(`| ${label} | ${kinds.map((k) => stat(results[k]!.flatMap(pick))).join(' | ')} |`);
