import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { composeRecovery, type RecoveryWorker } from '../../app/root.js';
import type { Config } from '../../config/types.js';
import { formatIncident, formatTimelineEntry } from '../../incidents/format.js';
import { leadIfNoneLeads, type LeadForCommand } from '../../leadership/follow.js';
import { recoveryEnd } from '../../pipeline/ended.js';
import { formatDuration, parseDuration } from '../../shared/duration.js';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { sleep } from '../../shared/time.js';
import { configPathOf, createCliLogger, EXIT_CONFIG, loadFencingCliConfig, withConfigOption, type ConfigPaths } from '../context.js';
import { outputOptions, renderOne, withOutputOptions } from '../output.js';

export interface EvacuateCliDeps {
  loadConfig(path?: ConfigPaths): Promise<Config>;
  createLogger(config: Config): Logger;
  /**
   * The recovery as `cmpha run` builds it (the composition root: leader-only Nova and BMCs, the same liveness
   * check); its workers are started only when this process leads.
   */
  startWorker(config: Config, logger: Logger): Promise<RecoveryWorker> | RecoveryWorker;
  stdout(text: string): void;
  stderr(text: string): void;
  setExitCode(code: number): void;
  now(): number;
}

const defaultDeps: EvacuateCliDeps = {
  loadConfig: loadFencingCliConfig,
  createLogger: createCliLogger,
  startWorker: (config, logger) => composeRecovery(config, { logger }),
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
      try {
        worker = await deps.startWorker(config, logger);
        lead = await leadIfNoneLeads(worker.lease, worker, logger);
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
      }
    });
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
    const end = recoveryEnd(inc.status);
    if (end === 'closed') {
      deps.stdout(`\n${formatIncident(inc)}`);
      return inc.status;
    }
    if (end === 'waiting') {
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
