import type { Command } from 'commander';
import { createDetector } from '../../detector/detector.js';
import { createProber } from '../../detector/prober.js';
import { resume } from '../../detector/storm-brake-store.js';
import type { HostConfig } from '../../config/types.js';
import type { HostReport, RoundReport } from '../../detector/types.js';
import { createOpenStack } from '../../openstack/index.js';
import { formatDuration } from '../../shared/duration.js';
import { errorMessage } from '../../shared/errors.js';
import { sleep } from '../../shared/time.js';
import { configPathOf, createCliCompute, createCliLogger, EXIT_BLIND, EXIT_CONFIG, loadCliConfig, withConfigOption } from '../context.js';
import { withOpsRedis } from '../ops-config.js';
import { columnsUsable, formatTable, outputOptions, renderList, renderOne, withOutputOptions, type Column, type OutputOptions } from '../output.js';
import type { Config } from '../../config/types.js';
import { surveyStorage, type StorageSurvey } from '../../fencing/ceph/storage-survey.js';
import { createStorageFence } from '../../fencing/fence-plan.js';
import type { VolumeApi } from '../../openstack/types.js';
import type { ComputeBackend } from '../../compute/types.js';
import { mapLimit } from '../../shared/map-limit.js';
import { planFleet, type PlannedServer } from '../../evacuator/host-plan.js';
import { describeDisarm, type DisarmView } from '../../detector/disarm.js';
import { disarmViews } from '../../detector/ha-control.js';
import { connectRedisOnce } from '../../shared/redis-connect.js';
import { disarmRecord } from './ha.js';

export { EXIT_BLIND };

interface CheckOptions {
  config?: string;
  json?: boolean;
  format?: string;
  column?: string[];
  storage?: boolean;
  plan?: boolean;
}

/** `cmpha check --plan`: per host, what its failure would do to each server and why. */
export const PLAN_COLUMNS: readonly Column<PlannedServer>[] = [
  { header: 'HOST', key: 'host', cell: (r) => r.host },
  { header: 'SERVER', key: 'name', cell: (r) => r.name },
  { header: 'STATUS', key: 'status', cell: (r) => r.status },
  { header: 'PLAN', key: 'plan', cell: (r) => r.plan },
  { header: 'TIER', key: 'tier', cell: (r) => r.tier },
  { header: 'PRIORITY', key: 'priority', cell: (r) => r.priority },
  { header: 'TARGET', key: 'target', cell: (r) => r.target || '-' },
  { header: 'WHY', key: 'why', cell: (r) => `${r.why}${r.priorityFrom ? `; priority from ${r.priorityFrom}` : ''}` },
  { header: 'NEEDS', key: 'needs', cell: (r) => specialCell(r) },
];

/** What a server needs of its target beyond vCPU and RAM, and which spare can (or cannot, and why) host it. */
function specialCell(r: PlannedServer): string {
  if (r.needs.length === 0) return '-';
  const s = r.spares;
  const fit = !s ? '' : s.capable.length > 0 ? `; can go to ${s.capable.join(', ')}` : '; NO SPARE CAN HOST IT';
  const not = s && s.not.length > 0 ? ` (not ${s.not.map((n) => `${n.host}: ${n.why}`).join('; ')})` : '';
  return `${r.needs.join(', ')}${fit}${not}`;
}

/** Exit code of `check --storage` when a disk has a second writer or one on a host Nova does not place it on. */
export const EXIT_DOUBLE_WRITER = 4;

/** Every compute host's servers from Nova, surveyed on the configured Ceph in one connection. */
export async function runStorageCheck(config: Config, compute: Pick<ComputeBackend, 'hosts' | 'guestsOn'>, volumes?: VolumeApi): Promise<StorageSurvey> {
  if (!config.ceph) throw new Error('no [ceph] section with keyring_file: nothing to check');
  const hosts = [...new Set((await compute.hosts()).map((s) => s.name))].sort();
  const withServers = await mapLimit(hosts, 8, async (host) => ({ host, storageIps: config.hosts[host]?.storageIps ?? [], servers: await compute.guestsOn(host) }));
  return surveyStorage(createStorageFence(config.ceph, config.fencing), withServers, undefined, Date.now, volumes);
}

/** `check --storage` as text: double writers first, then each host's storage evidence. */
export function formatStorageCheck(survey: StorageSurvey): string {
  const lines: string[] = [];
  const doubles = survey.servers.filter((f) => f.verdict === 'double-writer');
  for (const f of doubles) lines.push(`DOUBLE WRITER  ${f.detail}`);
  for (const f of survey.servers.filter((x) => x.verdict === 'unproven')) lines.push(`not proven     ${f.detail}`);
  const onCeph = survey.servers.filter((f) => f.verdict !== 'not-on-ceph').length;
  const single = survey.servers.filter((f) => f.verdict === 'single').length;
  lines.push(`${single} of ${onCeph} server(s) on Ceph have exactly one writer per disk, on the host Nova places them on; ${doubles.length} double writer(s)`);
  lines.push('', 'storage evidence (watches held from each host\'s storage_ips: alive on storage while present)');
  for (const h of survey.hosts) lines.push(`  ${h.host.padEnd(20)} ${h.watches > 0 ? `${h.watches} watch(es) from ${h.clients.slice(0, 3).join(', ')}${h.clients.length > 3 ? ', …' : ''}` : 'none'}`);
  return `${lines.join('\n')}\n`;
}

/** What `cmpha ha disarm` has taken out of HA, as Redis holds it, or why it could not be read. */
export type DisarmsRead = { readonly views: readonly DisarmView[] } | { readonly error: string };

/** The disarms for `check`: one short read-only connection; an unreachable Redis is said, not fatal. */
export async function readDisarms(config: Pick<Config, 'redis' | 'detector'>, timeoutMs = 3000): Promise<DisarmsRead> {
  let redis: Awaited<ReturnType<typeof connectRedisOnce>> | undefined;
  try {
    redis = await connectRedisOnce(config.redis, timeoutMs);
    return { views: await disarmViews(redis, config.redis.prefix, Date.now(), config.detector.disarmLimitMs) };
  } catch (err) {
    return { error: errorMessage(err) };
  } finally {
    redis?.disconnect();
  }
}

/** The lines that say what is out of HA: the disarms (scope, who, since, until, why) and the config's ha = false. */
function outOfHaLines(report: RoundReport, hosts: Readonly<Record<string, HostConfig>>, disarms: DisarmsRead | undefined): string[] {
  const lines: string[] = [];
  if (disarms && 'error' in disarms) lines.push('', `DISARMS UNREADABLE (cmpha ha status needs Redis): ${disarms.error}`);
  else if (disarms && disarms.views.length > 0) lines.push('', 'DISARMED (cmpha ha status; detected and reported, never fenced or evacuated):', ...disarms.views.map((v) => `  - ${describeDisarm(v)}`));
  const haOff = report.hosts.filter((h) => hosts[h.host]?.ha === false);
  if (haOff.length > 0) {
    lines.push('', `HA OFF (config: ha = false): ${haOff.map((h) => h.host).join(', ')}: watched and reported, never fenced or evacuated`);
  }
  return lines;
}

/** One line per host: what each signal said and what the controller would do. */
export function formatCheckTable(report: RoundReport, hosts: Readonly<Record<string, HostConfig>> = {}, disarms?: DisarmsRead): string {
  const rows: string[][] = [['HOST', 'ZONE', 'VERDICT', 'ACTION', 'FENCING', 'NOVA', 'MGMT IP', 'INSTANCES', 'SUSPECT SINCE']];
  for (const h of report.hosts) {
    const e = h.evidence;
    const inst = e.instances.checked || e.instances.note
      ? `${e.instances.answered}/${e.instances.addresses.length} answer, ${e.instances.baselineSilent}/${e.instances.baselineTotal} baseline silent`
      : '-';
    rows.push([
      h.host,
      h.zone ?? '-',
      h.verdict,
      h.action + (h.incidentId ? ` (${h.incidentId})` : ''),
      fencingOf(h.host, hosts),
      e.nova.says,
      e.mgmt.ip ? `${e.mgmt.ip} ${e.mgmt.result}` : e.mgmt.result,
      inst,
      e.suspectSince === null ? '-' : `${new Date(e.suspectSince).toISOString()} (${e.unhealthyRounds} rounds)`,
    ]);
  }
  const lines = formatTable(rows[0]!, rows.slice(1)).replace(/\n$/, '').split('\n');
  const flags = [
    `controller isolated: ${report.isolated ? `YES (${report.isolationReason})` : 'no'}`,
    `probe: ${report.probeFailed ? `FAILED (${report.probeFailed})` : 'ok'}`,
    `storm brake: ${report.stormBrake.active ? `ON (${report.stormBrake.reason})` : 'off'}`,
  ];
  lines.push('', flags.join('; '));
  lines.push(...outOfHaLines(report, hosts, disarms));
  const unfenceable = report.hosts.filter((h) => h.verdict !== 'maintenance' && fencingOf(h.host, hosts) === 'NONE');
  if (unfenceable.length > 0) {
    lines.push('', `NOT FENCEABLE (no [host:NAME] driver): ${unfenceable.map((h) => h.host).join(', ')}: these hosts would never be evacuated; see cmpha doctor`);
  }
  const single = report.hosts.filter((h) => h.verdict !== 'maintenance' && h.evidence.signals === 1);
  if (single.length > 0) {
    lines.push('', `ONE SIGNAL ONLY (management network; no storage_ip, tunnel_ip or answering instance address): ${single.map((h) => h.host).join(', ')}: `
      + 'a cut management link looks like death, so these need single_signal_silence before they are dead; see cmpha doctor');
  }
  for (const h of report.hosts.filter((x) => x.verdict !== 'healthy' && x.verdict !== 'maintenance')) {
    lines.push('', `${h.host}: ${h.verdict}`, ...h.evidence.reasons.map((r) => `  - ${r}`));
  }
  return `${lines.join('\n')}\n`;
}

/** The fencing driver a host would be fenced with; NONE means it would never be evacuated. */
function fencingOf(host: string, hosts: Readonly<Record<string, HostConfig>>): string {
  const driver = hosts[host]?.fence.driver ?? 'none';
  return driver === 'none' ? 'NONE' : driver;
}

/** A host as `check -f json|yaml` shows it. */
function hostRecord(h: HostReport, hostConfigs: Readonly<Record<string, HostConfig>>): Record<string, unknown> {
  return {
    host: h.host, zone: h.zone, verdict: h.verdict, evidence: h.evidence, action: h.action, fencing: fencingOf(h.host, hostConfigs).toLowerCase(),
    ha: hostConfigs[h.host]?.ha !== false,
    ...(h.incidentId ? { incidentId: h.incidentId } : {}),
  };
}

const HOST_COLUMNS: readonly Column<HostReport & { fencing: string }>[] = [
  { header: 'HOST', key: 'host', cell: (h) => h.host },
  { header: 'ZONE', key: 'zone', cell: (h) => h.zone },
  { header: 'VERDICT', key: 'verdict', cell: (h) => h.verdict },
  { header: 'ACTION', key: 'action', cell: (h) => h.action },
  { header: 'FENCING', key: 'fencing', cell: (h) => h.fencing },
  { header: 'NOVA', key: 'nova', cell: (h) => h.evidence.nova.says },
  { header: 'MGMT IP', key: 'mgmt', cell: (h) => h.evidence.mgmt.result },
  { header: 'SUSPECT SINCE', key: 'suspectSince', cell: (h) => (h.evidence.suspectSince === null ? null : new Date(h.evidence.suspectSince).toISOString()) },
  { header: 'INCIDENT', key: 'incidentId', cell: (h) => h.incidentId },
];

function renderCheck(report: RoundReport, hostConfigs: Readonly<Record<string, HostConfig>>, out: OutputOptions, wallMs: number, disarms: DisarmsRead): string {
  const rows = report.hosts.map((h) => ({ ...h, fencing: fencingOf(h.host, hostConfigs).toLowerCase() }));
  if ((out.format === 'json' || out.format === 'yaml') && out.columns.length === 0) {
    return renderOne({
      hosts: report.hosts.map((h) => hostRecord(h, hostConfigs)),
      isolated: report.isolated,
      isolationReason: report.isolationReason,
      probeFailed: report.probeFailed,
      stormBrake: report.stormBrake,
      disarmed: 'error' in disarms ? null : disarms.views.map(disarmRecord),
      ...('error' in disarms ? { disarmedError: disarms.error } : {}),
      haOff: report.hosts.filter((h) => hostConfigs[h.host]?.ha === false).map((h) => h.host),
      dryRun: true,
      durationMs: wallMs,
    }, out);
  }
  return renderList(rows, HOST_COLUMNS, out, {
    tableText: () => `${formatCheckTable(report, hostConfigs, disarms)}(checked in ${formatDuration(wallMs)}; nothing was acted on)\n`,
  });
}

export function registerCheckCommands(program: Command): void {
  withConfigOption(withOutputOptions(program
    .command('check')
    .description('probe every compute host now and print its verdict and the action the controller would take; acts on nothing, opens nothing')
    .addHelpText('after', '\n-f json prints {"hosts":[{"host","verdict","evidence","action"}],"isolated","stormBrake",...}.\nExit 3: the controller could not see the cloud (isolated from its isolation addresses, or the probe failed).\nExit 4 (--storage): a Ceph disk has more than one writer.')
    .option('--storage', 'instead: check every server\'s Ceph disks have one writer, on the host Nova places it on, and show each host\'s storage evidence')
    .option('--plan', 'instead: per host, what its failure would do to each server now (move, left for its state, excluded by the policy), the rule that decided, its priority and tier, and the spare the plan names'), { json: true }))
    .action(async (opts: CheckOptions) => {
      // The wall time of the whole check (rounds, the wait between them, the watch of suspects), not of one round.
      const started = Date.now();
      const out = outputOptions(opts);
      // A wrong -c is a usage error before any probe goes out.
      if (!opts.plan && !columnsUsable('check', HOST_COLUMNS, out.columns)) return;
      const config = await loadCliConfig(configPathOf(program, opts));
      const logger = createCliLogger(config);
      const openstack = createOpenStack(config.cloud, { logger });
      const compute = createCliCompute(config, logger, openstack);
      if (opts.storage && !config.ceph) {
        // A config problem, not a cloud cmpha cannot see: nothing to survey until [ceph] names a keyring.
        process.stderr.write(`cmpha check --storage: ${config.path ?? 'the config'} has no [ceph] section with keyring_file: there is no Ceph to check (see [ceph] in cmpha.conf.example)\n`);
        process.exitCode = EXIT_CONFIG;
        return;
      }
      if (opts.plan) {
        if (!columnsUsable('check', PLAN_COLUMNS, out.columns)) return;
        try {
          const rows = await planFleet(compute, config.evacuation);
          process.stdout.write(renderList(rows, PLAN_COLUMNS, out, { empty: 'no servers on any compute host\n' }));
        } catch (err) {
          process.stderr.write(`cmpha check --plan: ${errorMessage(err)}\n`);
          process.exitCode = EXIT_BLIND;
        }
        return;
      }
      if (opts.storage) {
        try {
          const survey = await runStorageCheck(config, compute, openstack.volumes);
          process.stdout.write(out.format === 'table' ? formatStorageCheck(survey) : renderOne({ ...survey }, out));
          if (survey.servers.some((f) => f.verdict === 'double-writer')) process.exitCode = EXIT_DOUBLE_WRITER;
        } catch (err) {
          process.stderr.write(`cmpha check --storage: ${errorMessage(err)}\n`);
          process.exitCode = EXIT_BLIND;
        }
        return;
      }
      const prober = createProber(config.detector, { logger });
      // No Redis, no incident opener, no notifier: this process cannot act even by mistake.
      const detector = createDetector({ config, compute, prober, logger });
      // The first round learns which instance addresses answer; the second can use them as evidence.
      await detector.runRound();
      await sleep(Math.min(config.detector.intervalMs, 2000));
      let report = await detector.runRound();
      // Silence is timed, not counted: watch suspects for min_silence, as the controller would, so a dead host
      // shows as dead. Hosts with a single signal need single_signal_silence; check does not wait that long.
      const d = config.detector;
      const watchUntil = Date.now() + d.minSilenceMs + 2 * d.probeIntervalMs;
      while (Date.now() < watchUntil && report.hosts.some((h) => h.verdict === 'suspect' && h.evidence.silenceNeededMs <= d.minSilenceMs)) {
        await sleep(d.probeIntervalMs);
        report = (await detector.runSuspectCheck()) ?? report;
      }
      const disarms = await readDisarms(config);
      try {
        process.stdout.write(renderCheck(report, config.hosts, out, Date.now() - started, disarms));
      } catch (err) {
        process.stderr.write(`cmpha check: ${errorMessage(err)}\n`);
        process.exitCode = EXIT_CONFIG;
        return;
      }
      if (report.isolated || report.probeFailed) process.exitCode = EXIT_BLIND;
    });

  withConfigOption(withOutputOptions(program
    .command('resume')
    .description('after a storm brake: let the active controller open incidents for the hosts it holds back now (needs only [redis])'), { json: true }))
    .action(async (opts: { config?: string; json?: boolean; format?: string; column?: string[] }) => withOpsRedis(configPathOf(program, opts), 'resume', async (config, redis) => {
      const out = outputOptions(opts);
      const r = await resume(redis, config.redis.prefix);
      if (out.format !== 'table') {
        process.stdout.write(renderOne({ brakeActive: r.brakeActive, reason: r.reason, since: r.since, resumeRequested: true }, out));
      } else if (r.brakeActive) {
        const since = r.since === null ? '' : ` since ${new Date(r.since).toISOString()}`;
        process.stdout.write(`storm brake is on${since}: ${r.reason ?? 'no reason recorded'}\n`
          + 'resume requested: the active controller opens incidents for the hosts it holds back at its next round;\n'
          + 'if more hosts fail after that, the brake engages again.\n');
      } else {
        process.stdout.write('the storm brake is not on: nothing to resume (the controller drops the request at its next round)\n');
      }
    }));
}
