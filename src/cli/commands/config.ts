import type { Command } from 'commander';
import { CONFIG_CHECKS } from '../../app/config-checks.js';
import { ConfigError, formatIssue, loadConfig, type ConfigIssue } from '../../config/load.js';
import { configWarnings } from '../../config/warnings.js';
import { maskUrlsDeep } from '../../shared/mask-url.js';
import { collect, configLocation, EXIT_CONFIG } from '../context.js';

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('inspect cmpha.conf');
  config
    .command('validate')
    .description('validate the configuration; print the effective settings with secrets masked, or every problem found')
    .option('-c, --config <path>', 'config file; repeat for several, later ones override earlier ones (default: $CMPHA_CONFIG or /etc/cmpha/cmpha.conf)', collect, [])
    .option('--quiet', 'print nothing when the configuration is valid')
    .action(async (opts: { config: string[]; quiet?: boolean }) => {
      const warnings: ConfigIssue[] = [];
      try {
        const cfg = await loadConfig({ ...configLocation(opts.config), env: process.env, checks: CONFIG_CHECKS, onWarning: (w) => warnings.push(w) });
        warnings.push(...configWarnings(cfg));
        for (const w of warnings) process.stderr.write(`warning: ${formatIssue(w)}\n`);
        // Secret serialises as "***"; a password written into a URL (Redis, a proxy) is masked as well.
        if (!opts.quiet) process.stdout.write(`${JSON.stringify(maskUrlsDeep(JSON.parse(JSON.stringify(cfg)) as unknown), null, 2)}\n`);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        for (const line of err.lines()) process.stderr.write(`${line}\n`);
        process.exitCode = EXIT_CONFIG;
      }
    });
}
