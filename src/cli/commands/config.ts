import type { Command } from 'commander';
import { CONFIG_CHECKS } from '../../app/config-checks.js';
import { ConfigError, loadConfig } from '../../config/load.js';
import { EXIT_CONFIG } from '../context.js';

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('inspect cmpha.conf');
  config
    .command('validate')
    .description('validate the configuration; print the effective settings with secrets masked, or every problem found')
    .option('-c, --config <path>', 'config file (default: $CMPHA_CONFIG or /etc/cmpha/cmpha.conf)')
    .option('--quiet', 'print nothing when the configuration is valid')
    .action(async (opts: { config?: string; quiet?: boolean }) => {
      try {
        const cfg = await loadConfig({ path: opts.config ?? program.opts<{ config?: string }>().config, env: process.env, checks: CONFIG_CHECKS });
        // Secret serialises as "***", so the effective config can be printed as is.
        if (!opts.quiet) process.stdout.write(`${JSON.stringify(cfg, null, 2)}\n`);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        for (const line of err.lines()) process.stderr.write(`${line}\n`);
        process.exitCode = EXIT_CONFIG;
      }
    });
}
