import { userInfo } from 'node:os';
import type { Command } from 'commander';
import type { Config, HostConfig } from '../../config/types.js';
import { checkAllFencing, checkHostFencing, describeLevels, type HostFenceStatus } from '../../fencing/check-fencing.js';
import { createFenceDriver } from '../../fencing/create-driver.js';
import { fenceHost } from '../../fencing/fence-host.js';
import type { FenceEvent } from '../../fencing/types.js';
import { confirmFence, heartbeatSinceOpened } from '../../pipeline/confirm-fence.js';
import { hostNamed } from '../../compute/hosts.js';
import { retryFence } from '../../pipeline/retry-fence.js';
import { composeRecovery, type RecoveryWorker } from '../../app/root.js';
import { CmphaError, errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { systemClock } from '../../shared/time.js';
import { configPathOf, createCliLogger, EXIT_CONFIG, loadCliConfig, loadFencingCliConfig, withConfigOption, type ConfigPaths } from '../context.js';
import { formatTable, outputOptions, renderList, renderOne, withOutputOptions, type Column } from '../output.js';

export type FenceCliConfig = Pick<Config, 'hosts' | 'fencing' | 'logging'> & Partial<Pick<Config, 'ceph'>>;

export interface FenceCliDeps {
  loadConfig(path?: ConfigPaths): Promise<FenceCliConfig>;
  /** The full config, for `fence confirm` (it reaches the incidents in Redis). */
  loadFullConfig(path?: ConfigPaths): Promise<Config>;
  /** A recovery worker that only submits (its workers are not started). */
  startWorker(config: Config, logger: Logger): Promise<RecoveryWorker> | RecoveryWorker;
  /** Who runs the command, as recorded with a confirmation. */
  user(): string;
  createLogger(config: FenceCliConfig): Logger;
  stdout(text: string): void;
  stderr(text: string): void;
  setExitCode(code: number): void;
}

const defaultDeps: FenceCliDeps = {
  loadConfig: loadFencingCliConfig,
  loadFullConfig: loadCliConfig,
  startWorker: (config, logger) => composeRecovery(config, { logger }),
  user: () => userInfo().username,
  createLogger: createCliLogger,
  stdout: (t) => { process.stdout.write(t); },
  stderr: (t) => { process.stderr.write(t); },
  setExitCode: (c) => { process.exitCode = c; },
};

interface CommonOpts { config?: string; json?: boolean; format?: string; column?: string[] }

const FENCE_COLUMNS: readonly Column<HostFenceStatus>[] = [
  { header: 'HOST', key: 'host', cell: (r) => r.host },
  { header: 'DRIVER', key: 'driver', cell: (r) => r.driver },
  { header: 'BMC', key: 'bmc', cell: (r) => r.bmc },
  { header: 'REACHABLE', key: 'reachable', cell: (r) => (r.reachable === undefined ? undefined : r.reachable ? 'yes' : 'no') },
  { header: 'POWER', key: 'power', cell: (r) => r.power },
  { header: 'WORKS', key: 'works', cell: (r) => r.works },
  { header: 'LEVELS', key: 'levels', cell: (r) => describeLevels(r.levels) },
  { header: 'CODE', key: 'code', cell: (r) => r.code },
  { header: 'NOTE', key: 'note', cell: (r) => r.note },
];

/** `cmpha fence status HOST | --all`, `cmpha fence off HOST --yes` and `cmpha fence confirm HOST --yes`. */
export function registerFenceCommands(program: Command, overrides: Partial<FenceCliDeps> = {}): void {
  const deps: FenceCliDeps = { ...defaultDeps, ...overrides };
  const configPath = (opts: CommonOpts) => configPathOf(program, opts);
  const fence = program.command('fence').description('check and use the BMCs that power compute hosts off');

  withConfigOption(withOutputOptions(fence
    .command('status')
    .description('read the power state of a host (or every host) through its BMC, and whether each device of its fence levels answers; changes nothing')
    .argument('[host]', 'a host with a [host:NAME] section')
    .option('--all', 'every configured host, as a table; exit 1 if any host cannot be fenced'), { json: true, columns: FENCE_COLUMNS }))
    .action(async (name: string | undefined, opts: CommonOpts & { all?: boolean }) => {
      if ((name === undefined) === !opts.all) {
        deps.stderr('cmpha fence status: give one HOST or --all\n');
        deps.setExitCode(EXIT_CONFIG);
        return;
      }
      const config = await deps.loadConfig(configPath(opts));
      const logger = deps.createLogger(config);
      let rows: HostFenceStatus[];
      if (opts.all) {
        const hosts = Object.values(config.hosts).sort((a, b) => a.name.localeCompare(b.name));
        if (hosts.length === 0) {
          deps.stderr('cmpha fence status: no [host:NAME] sections are configured\n');
          deps.setExitCode(1);
          return;
        }
        rows = await checkAllFencing(hosts, config.fencing, { logger, ...(config.ceph ? { ceph: config.ceph } : {}) });
      } else {
        const host = findHost(config, name!, deps);
        if (!host) return;
        rows = [await checkHostFencing(host, config.fencing, { logger, ...(config.ceph ? { ceph: config.ceph } : {}) })];
      }
      // A host with driver = none is a declared choice (never evacuated), not a broken BMC.
      const broken = rows.some((r) => !r.works && r.driver !== 'none');
      const out = outputOptions(opts);
      try {
        // One host in json/yaml is one object, as before; --all is a list.
        if (!opts.all && (out.format === 'json' || out.format === 'yaml') && out.columns.length === 0) deps.stdout(renderOne({ ...rows[0]! }, out));
        else deps.stdout(renderList(rows, FENCE_COLUMNS, out, { full: (r) => r, tableText: () => formatStatusTable(rows) }));
      } catch (err) {
        deps.stderr(`cmpha fence status: ${errorMessage(err)}\n`);
        deps.setExitCode(EXIT_CONFIG);
        return;
      }
      deps.setExitCode(broken || (!opts.all && !rows[0]!.works) ? 1 : 0);
    });

  withConfigOption(withOutputOptions(fence
    .command('off')
    .description('power a host off through its BMC and read the power state back')
    .argument('<host>', 'a host with a [host:NAME] section')
    .option('--yes', 'really power the host off (it is not shut down cleanly)'), { json: true }))
    .action(async (name: string, opts: CommonOpts & { yes?: boolean }) => {
      const out = outputOptions(opts);
      opts.json = out.format !== 'table';
      if (!opts.yes) {
        deps.stderr(`cmpha fence off: refusing to power off ${name} without --yes (a hard power-off: every instance on it stops at once)\n`);
        deps.setExitCode(EXIT_CONFIG);
        return;
      }
      const config = await deps.loadConfig(configPath(opts));
      const logger = deps.createLogger(config);
      const host = findHost(config, name, deps);
      if (!host) return;
      let driver;
      try {
        driver = createFenceDriver(host, config.fencing, { logger });
      } catch (err) {
        deps.stderr(`cmpha fence off: ${errorMessage(err)}\n`);
        deps.setExitCode(err instanceof CmphaError && err.code === 'fence_config_invalid' ? EXIT_CONFIG : 1);
        return;
      }
      if (!driver) {
        deps.stderr(`cmpha fence off: ${name} has no fencing (driver = none): cmpha cannot power it off and will never evacuate it\n`);
        deps.setExitCode(1);
        return;
      }
      const { timeoutMs, pollIntervalMs, attempts } = config.fencing;
      const result = await fenceHost(driver, {
        timeoutMs, pollIntervalMs, attempts,
        ...(opts.json ? {} : { onEvent: (e: FenceEvent) => deps.stdout(formatEvent(e)) }),
      });
      if (opts.json) deps.stdout(renderOne({ host: name, ...result }, out));
      if (!result.ok) {
        if (!opts.json) deps.stdout(`${name}: NOT confirmed off (${result.code}): ${result.reason}; last power state read: ${result.lastState}\n`);
        deps.setExitCode(1);
      } else if (result.unfenced) {
        if (!opts.json) deps.stdout(`${name}: NOT FENCED: driver noop powers nothing off; the host may still be running\n`);
        deps.setExitCode(1);
      } else {
        if (!opts.json) deps.stdout(`${name}: power is off (read back from the BMC${result.alreadyOff ? '; it was already off, nothing was sent' : ''})\n`);
        deps.setExitCode(0);
      }
    });

  registerFenceConfirm(fence, deps, configPath);
  registerFenceRetry(fence, deps, configPath);
}

/** `cmpha fence retry HOST`: the fence of an incident waiting after every attempt failed, tried again. */
function registerFenceRetry(fence: Command, deps: FenceCliDeps, configPath: (opts: CommonOpts) => ConfigPaths | undefined): void {
  withConfigOption(fence
    .command('retry')
    .description('try the fence of a host whose incident waits for one again, with its fence settings as the config says now (a fixed BMC password)')
    .argument('<host>', 'the host whose incident waits for a fence'))
    .action(async (name: string, opts: CommonOpts) => {
      await onWaitingIncident(deps, 'retry', configPath(opts), async (worker, logger) => {
        const rec = await retryFence({ store: worker.incidents, logger, clock: systemClock }, name, { by: deps.user(), reason: 'asked with cmpha fence retry' });
        return { id: rec.id, said: `${name}: fence of incident ${rec.id} tried again; the controller reads ${name}'s fence settings from its config as they are now (cmpha incidents show ${rec.id})` };
      });
    });
}

/**
 * What `fence retry` and `fence confirm` share: a submit-only recovery worker, the change to the waiting incident,
 * then the incident handed to the controller's queue. Any failure is the command's error (exit 1).
 */
async function onWaitingIncident(
  deps: FenceCliDeps,
  command: string,
  paths: ConfigPaths | undefined,
  act: (worker: RecoveryWorker, logger: Logger) => Promise<{ id: string; said: string }>,
): Promise<void> {
  const config = await deps.loadFullConfig(paths);
  const logger = deps.createLogger(config);
  let worker: RecoveryWorker | undefined;
  try {
    worker = await deps.startWorker(config, logger);
    const { id, said } = await act(worker, logger);
    await worker.submit(id);
    deps.stdout(`${said}\n`);
    deps.setExitCode(0);
  } catch (err) {
    deps.stderr(`cmpha fence ${command}: ${errorMessage(err)}\n`);
    deps.setExitCode(1);
  } finally {
    await worker?.stop();
  }
}

/** `cmpha fence confirm HOST --yes`: a human's word that the host is off, for an incident waiting for a fence. */
function registerFenceConfirm(fence: Command, deps: FenceCliDeps, configPath: (opts: CommonOpts) => ConfigPaths | undefined): void {
  withConfigOption(fence
    .command('confirm')
    .description('declare a host off by hand when every fence attempt failed: its incident continues (force-down, evacuation)')
    .argument('<host>', 'the host whose incident waits for a fence')
    .option('--yes', 'I made sure the host is powered off (or cut from its disks): evacuating a running host corrupts shared disks')
    .option('--note <text>', 'what was checked, recorded in the incident and the notice', '')
    .option('--force', 'confirm although the host showed life since its incident opened (you made sure it is off now)'))
    .action(async (name: string, opts: CommonOpts & { yes?: boolean; note: string; force?: boolean }) => {
      if (!opts.yes) {
        deps.stderr(`cmpha fence confirm: refusing without --yes: make sure ${name} is off first (see docs/operations.md, "When fencing fails")\n`);
        deps.setExitCode(EXIT_CONFIG);
        return;
      }
      await onWaitingIncident(deps, 'confirm', configPath(opts), async (worker, logger) => {
        const compute = worker.compute;
        const rec = await confirmFence({ store: worker.incidents, notifier: worker.notifier, logger, clock: systemClock }, name,
          { user: deps.user(), note: opts.note, ...(opts.force ? { force: true } : {}) },
          // A look that fails (Nova unreachable) shows nothing: the detector's record still does.
          async (r) => heartbeatSinceOpened(r, hostNamed(await compute.hosts({ name }).catch(() => []), name), compute.names));
        return { id: rec.id, said: `${name}: fence confirmed by ${deps.user()} for incident ${rec.id}; its recovery continues (cmpha incidents show ${rec.id})` };
      });
    });
}

function findHost(config: FenceCliConfig, name: string, deps: FenceCliDeps): HostConfig | undefined {
  const host = config.hosts[name];
  if (!host) {
    const known = Object.keys(config.hosts).sort();
    deps.stderr(`cmpha fence: no [host:${name}] section in the config${known.length ? ` (configured: ${known.join(', ')})` : ''}\n`);
    deps.setExitCode(EXIT_CONFIG);
  }
  return host;
}

function formatEvent(e: FenceEvent): string {
  const kind = e.kind === 'status' ? `status ${e.state ?? ''}`.trim() : e.kind;
  return `${new Date(e.at).toISOString()}  ${kind.padEnd(11)} ${e.detail}\n`;
}

/** The table of `cmpha fence status`: one row per host, then each problem in full below it. */
export function formatStatusTable(rows: readonly HostFenceStatus[]): string {
  const header = ['HOST', 'DRIVER', 'BMC', 'REACHABLE', 'POWER', 'LEVELS', 'NOTE'];
  const cells = rows.map((r) => [
    r.host,
    r.driver,
    r.bmc ?? '-',
    r.reachable === undefined ? '-' : r.reachable ? 'yes' : 'no',
    r.power ?? '-',
    describeLevels(r.levels),
    r.driver === 'none' ? (r.note ?? '') : r.works ? 'ok' : `FAILED ${r.code ?? ''}`.trim(),
  ]);
  let out = formatTable(header, cells);
  const problems = rows.filter((r) => !r.works && r.driver !== 'none' && r.note);
  if (problems.length) out += `\n${problems.map((r) => `${r.host}: ${r.note}\n`).join('')}`;
  const silent = rows.filter((r) => r.levels?.some((l) => l.some((d) => !d.answers)));
  if (silent.length) out += `\n${silent.map((r) => `${r.host} levels: ${describeLevels(r.levels, true)}\n`).join('')}`;
  return out;
}
