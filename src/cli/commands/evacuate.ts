import { userInfo } from 'node:os';
import type { Command } from 'commander';
import type { Redis } from 'ioredis';
import { leaderOnlyFenceDriver, leaderOnlyNova } from '../../app/leader-guard.js';
import type { Config } from '../../config/types.js';
import { detectorKeys } from '../../detector/keys.js';
import { LeaderLease } from '../../detector/leader-lease.js';
import { createOpenStack, type OpenStack } from '../../openstack/index.js';
import type { RecoveryDeps } from '../../pipeline/recovery-deps.js';
import { fenceDriversFromConfig } from '../../pipeline/start-recovery-worker.js';
import { createRedis } from '../../shared/redis-connect.js';
import { formatIncident, formatTimelineEntry } from '../../incidents/format.js';
import { isTerminalStatus } from '../../incidents/types.js';
import { startRecoveryWorker, type RecoveryWorker } from '../../pipeline/start-recovery-worker.js';
import { formatDuration, parseDuration } from '../../shared/duration.js';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { sleep } from '../../shared/time.js';
import { configPathOf, createCliLogger, EXIT_CONFIG, loadFencingCliConfig, withConfigOption, type ConfigPaths } from '../context.js';
import { outputOptions, renderOne, withOutputOptions } from '../output.js';

export interface EvacuateCliDeps {
  loadConfig(path?: ConfigPaths): Promise<Config>;
  createLogger(config: Config): Logger;
  /** A recovery worker over the given (leader-guarded) clients; its workers are started only when this process leads. */
  startWorker(config: Config, logger: Logger, extra: WorkerExtras): Promise<RecoveryWorker>;
  /** The OpenStack clients the worker acts through (wrapped so that only the lease holder can change anything). */
  openstack(config: Config, logger: Logger): Pick<OpenStack, 'nova' | 'placement' | 'neutron'> & Partial<Pick<OpenStack, 'volumes'>>;
  /** The Redis connection that holds the leader lease and carries the queue. */
  redis(config: Config): Redis;
  stdout(text: string): void;
  stderr(text: string): void;
  setExitCode(code: number): void;
  now(): number;
}

export type WorkerExtras = Partial<Omit<RecoveryDeps, 'config' | 'logger'>> & { start: false };

const defaultDeps: EvacuateCliDeps = {
  loadConfig: loadFencingCliConfig,
  createLogger: createCliLogger,
  startWorker: (config, logger, extra) => startRecoveryWorker(config, { logger, ...extra }),
  openstack: (config, logger) => createOpenStack(config.cloud, { logger }),
  redis: (config) => createRedis(config.redis, { mode: 'queue' }),
  stdout: (t) => { process.stdout.write(t); },
  stderr: (t) => { process.stderr.write(t); },
  setExitCode: (c) => { process.exitCode = c; },
  now: () => Date.now(),
};

/** An incident id for an operator's request: the host and the time, in the characters a job id allows. */
export function manualIncidentId(host: string, at: number): string {
  const stamp = new Date(at).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  return `${host.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 100)}-op-${stamp}`;
}

/** `cmpha evacuate HOST [--target SPARE] --yes`: the recovery pipeline on request, fencing first. */
export function registerEvacuateCommands(program: Command, overrides: Partial<EvacuateCliDeps> = {}): void {
  const deps: EvacuateCliDeps = { ...defaultDeps, ...overrides };
  withConfigOption(withOutputOptions(program
    .command('evacuate')
    .description('fence HOST, then evacuate its instances (to --target, or a spare, or where the scheduler chooses) and verify them')
    .argument('<host>', 'the compute host to evacuate (it is powered off first)')
    .option('--target <host>', 'put every instance on this host')
    .option('--yes', 'really power the host off and evacuate it')
    .option('--timeout <duration>', 'stop following after this long (the recovery goes on)', '30m'), { json: true }))
    .action(async (host: string, opts: { target?: string; yes?: boolean; timeout: string; config?: string; json?: boolean; format?: string; column?: string[] }) => {
      const out = outputOptions(opts);
      if (!opts.yes) {
        deps.stderr(`cmpha evacuate: refusing without --yes: ${host} is powered off through its BMC and every instance on it is rebuilt elsewhere\n`);
        deps.setExitCode(EXIT_CONFIG);
        return;
      }
      const timeoutMs = parseDuration(opts.timeout);
      if (timeoutMs === undefined) {
        deps.stderr(`cmpha evacuate: --timeout "${opts.timeout}" is not a duration (use e.g. 30m, 90s)\n`);
        deps.setExitCode(EXIT_CONFIG);
        return;
      }
      if (opts.target === host) {
        deps.stderr(`cmpha evacuate: --target ${host} is the host being evacuated\n`);
        deps.setExitCode(EXIT_CONFIG);
        return;
      }
      const config = await deps.loadConfig(configPathOf(program, opts));
      const logger = deps.createLogger(config);
      let worker: RecoveryWorker | undefined;
      let lead: LeadForCommand | undefined;
      const connection = deps.redis(config);
      try {
        const lease = new LeaderLease(connection, detectorKeys(config.redis.prefix).leader, config.detector.leaderLeaseMs, { logger });
        worker = await deps.startWorker(config, logger, { connection, ...leaderOnlyClients(config, logger, deps, lease), leadership: lease, start: false });
        lead = await leadIfNoneLeads(lease, worker, config.detector.leaderLeaseMs);
        const say = out.format === 'table' ? deps.stdout : () => undefined;
        say(lead.leading
          ? 'no cmpha controller leads: this command holds the leader lease and runs the recovery itself\n'
          : `a cmpha controller leads (${lead.holder}): it runs the recovery; following it\n`);
        const id = manualIncidentId(host, deps.now());
        const opened = await worker.opener.create(
          { id, host, failureStartedAt: deps.now(), evidence: { requestedBy: userInfo().username, command: 'cmpha evacuate' } },
          { origin: 'operator', ...(opts.target ? { requestedTarget: opts.target } : {}) },
        );
        let follow = id;
        if (!opened.created) {
          if (opened.reason === 'host-busy' && opened.existingId) {
            say(`${host} already has an open incident ${opened.existingId}; following it\n`);
            follow = opened.existingId;
            await worker.submit(follow);
          } else {
            throw new Error(`could not open incident ${id} (${opened.reason})`);
          }
        } else {
          say(`incident ${id} opened for ${host}\n`);
        }
        // json/yaml/value: no progress lines, only the incident as it stands at the end.
        const machine = out.format !== 'table';
        const status = await followIncident(worker, follow, timeoutMs, machine ? { ...deps, stdout: () => undefined } : deps);
        if (machine) {
          const inc = await worker.incidents.get(follow);
          if (inc) deps.stdout(renderOne({ ...inc }, out));
        }
        deps.setExitCode(status === 'resolved' ? 0 : 1);
      } catch (err) {
        deps.stderr(`cmpha evacuate: ${errorMessage(err)}\n`);
        deps.setExitCode(1);
      } finally {
        await worker?.stop();
        await lead?.release();
        connection.disconnect();
      }
    });
}

/**
 * Nova and the BMCs as the worker sees them: every change re-checks that this process holds the leader lease
 * with its epoch, as in `cmpha run`. While another controller leads, nothing here can power off or evacuate.
 */
function leaderOnlyClients(config: Config, logger: Logger, deps: EvacuateCliDeps, lease: LeaderLease): Pick<RecoveryDeps, 'nova' | 'placement' | 'neutron' | 'volumes' | 'fenceDriverFor'> {
  const { nova, placement, neutron, volumes } = deps.openstack(config, logger);
  const driverFor = fenceDriversFromConfig(config, logger);
  return {
    nova: leaderOnlyNova(nova, lease), ...(placement ? { placement } : {}), ...(neutron ? { neutron } : {}), ...(volumes ? { volumes } : {}),
    fenceDriverFor: (h) => {
      const d = driverFor(h);
      return d ? leaderOnlyFenceDriver(d, lease) : null;
    },
  };
}

interface LeadForCommand {
  readonly leading: boolean;
  /** The controller that leads, when it is not this process. */
  readonly holder?: string;
  release(): Promise<void>;
}

/**
 * Takes the leader lease only when no controller holds it, then runs the recovery workers and renews the lease
 * as `cmpha run` does (a controller starting meanwhile stays standby). Under a leader the workers stay stopped:
 * the incident goes on the shared queue and the leader's workers run it.
 */
async function leadIfNoneLeads(lease: LeaderLease, worker: RecoveryWorker, leaseMs: number): Promise<LeadForCommand> {
  if (!(await lease.acquireOrRenew())) {
    return { leading: false, holder: (await lease.holder()) ?? 'unknown', release: async () => undefined };
  }
  lease.onChange((leading) => {
    if (!leading) void worker.pauseWorkers().catch(() => undefined);
  });
  const timer = setInterval(() => { lease.acquireOrRenew().catch(() => undefined); }, Math.max(500, Math.floor(leaseMs / 3)));
  await worker.startWorkers();
  return {
    leading: true,
    async release() {
      clearInterval(timer);
      await lease.release().catch(() => undefined);
    },
  };
}

/** Prints timeline entries as they appear until the incident closes (or the time is up). */
export async function followIncident(
  worker: Pick<RecoveryWorker, 'incidents'>,
  id: string,
  timeoutMs: number,
  deps: Pick<EvacuateCliDeps, 'stdout' | 'now'>,
): Promise<string> {
  const deadline = deps.now() + timeoutMs;
  let shown = 0;
  for (;;) {
    const inc = await worker.incidents.get(id);
    if (!inc) throw new Error(`incident ${id} vanished`);
    for (const t of inc.timeline.slice(shown)) {
      deps.stdout(`${formatTimelineEntry(t)}\n`);
    }
    shown = inc.timeline.length;
    if (isTerminalStatus(inc.status)) {
      deps.stdout(`\n${formatIncident(inc)}`);
      return inc.status;
    }
    if (inc.status === 'awaiting_fence') {
      // Nothing moves until a human acts: waiting here would only end in the timeout.
      deps.stdout(`\n${formatIncident(inc)}\nthe incident waits for an operator: make sure ${inc.host} is off, then run cmpha fence confirm ${inc.host} --yes\n`);
      return inc.status;
    }
    if (deps.now() >= deadline) {
      deps.stdout(`still ${inc.status} after ${formatDuration(timeoutMs)}; a running cmpha daemon (or the next one to start) carries it on: cmpha incidents show ${id}\n`);
      return inc.status;
    }
    await sleep(500);
  }
}
