import type { Command } from 'commander';
import type { Config } from '../../config/types.js';
import { drainHost, type DrainedServer } from '../../evacuator/drain.js';
import type { ComputeBackend } from '../../compute/types.js';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { sleep, systemClock } from '../../shared/time.js';
import { configPathOf, createCliCompute, createCliLogger, EXIT_CONFIG, loadCliConfig, withConfigOption, type ConfigPaths } from '../context.js';
import { formatTable, onlyChanges, outputOptions, renderList, withOutputOptions, type Column } from '../output.js';

const DRAIN_COLUMNS: readonly Column<DrainedServer>[] = [
  { header: 'NAME', key: 'name', cell: (r) => r.name },
  { header: 'RESULT', key: 'result', cell: (r) => r.result },
  { header: 'DETAIL', key: 'detail', cell: (r) => r.detail },
];

export interface DrainCliDeps {
  loadConfig(path?: ConfigPaths): Promise<Config>;
  createLogger(config: Config): Logger;
  compute(config: Config, logger: Logger): ComputeBackend;
  stdout(text: string): void;
  stderr(text: string): void;
  setExitCode(code: number): void;
}

const defaultDeps: DrainCliDeps = {
  loadConfig: loadCliConfig,
  createLogger: createCliLogger,
  compute: createCliCompute,
  stdout: (t) => { process.stdout.write(t); },
  stderr: (t) => { process.stderr.write(t); },
  setExitCode: (c) => { process.exitCode = c; },
};

/** `cmpha drain HOST [--target HOST] --yes`: planned maintenance, no fencing. */
export function registerDrainCommands(program: Command, overrides: Partial<DrainCliDeps> = {}): void {
  const deps: DrainCliDeps = { ...defaultDeps, ...overrides };
  withConfigOption(withOutputOptions(program
    .command('drain')
    .description('planned maintenance: disable HOST and live-migrate its running instances away, then check each one (nothing is powered off)')
    .argument('<host>', 'the compute host to empty')
    .option('--target <host>', 'live-migrate everything to this host (default: the scheduler chooses)')
    .option('--yes', 'really disable the host and move its instances'), { json: true, columns: DRAIN_COLUMNS }))
    .action(async (host: string, opts: { target?: string; yes?: boolean; config?: string; json?: boolean; format?: string; column?: string[] }) => {
      const out = outputOptions(opts);
      const machine = out.format !== 'table';
      if (!opts.yes) {
        deps.stderr(`cmpha drain: refusing without --yes: ${host} is disabled and every running instance on it is live-migrated\n`);
        deps.setExitCode(EXIT_CONFIG);
        return;
      }
      if (opts.target === host) {
        deps.stderr(`cmpha drain: --target ${host} is the host being drained\n`);
        deps.setExitCode(EXIT_CONFIG);
        return;
      }
      const config = await deps.loadConfig(configPathOf(program, opts));
      const logger = deps.createLogger(config);
      const ev = config.evacuation;
      try {
        const results = await drainHost(
          { compute: deps.compute(config, logger), clock: systemClock, sleep, progress: onlyChanges((l) => { if (!machine) deps.stdout(`${l}\n`); }) },
          {
            host, ...(opts.target ? { target: opts.target } : {}),
            disabledReason: `${ev.disabledReasonPrefix} drain ${new Date().toISOString()}`,
            concurrency: ev.concurrency, verifyTimeoutMs: ev.verifyTimeoutMs, pollIntervalMs: ev.verifyPollIntervalMs,
          },
        );
        deps.stdout(machine ? renderList(results, DRAIN_COLUMNS, out, { full: (r) => r }) : formatDrain(host, results));
        deps.setExitCode(results.every((r) => r.result === 'moved') ? 0 : 1);
      } catch (err) {
        deps.stderr(`cmpha drain: ${errorMessage(err)}\n`);
        deps.setExitCode(1);
      }
    });
}

export function formatDrain(host: string, results: readonly DrainedServer[]): string {
  const moved = results.filter((r) => r.result === 'moved').length;
  let out = `\n${host}: ${moved} of ${results.length} server(s) moved\n`;
  const rows = [...results].sort((a, b) => a.name.localeCompare(b.name)).map((r) => [r.name, r.result, r.detail]);
  if (rows.length > 0) out += formatTable(['NAME', 'RESULT', 'DETAIL'], rows, '  ');
  if (moved < results.length) out += `${host} still holds ${results.length - moved} server(s); it stays disabled\n`;
  return out;
}
