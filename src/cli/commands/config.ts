import type { Command } from 'commander';
import { stringify as toYaml } from 'yaml';
import { CONFIG_CHECKS } from '../../app/config-checks.js';
import { ConfigError, loadConfig } from '../../config/load.js';
import { errorMessage } from '../../shared/errors.js';
import { configPathOf, EXIT_CONFIG, withConfigOption } from '../context.js';
import { effectiveSettings, formatSettings, type Setting } from '../effective-config.js';
import { outputOptions, renderList, withOutputOptions, type Column } from '../output.js';

const SETTING_COLUMNS: readonly Column<Setting>[] = [
  { header: 'SECTION', key: 'section', cell: (s) => s.section },
  { header: 'KEY', key: 'key', cell: (s) => s.key },
  { header: 'VALUE', key: 'value', cell: (s) => s.value },
];

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('inspect cmpha.conf');
  withConfigOption(withOutputOptions(config
    .command('validate')
    .description('validate the configuration; print the effective settings (INI keys, secrets masked), or every problem found; exit 2 if invalid')
    .option('--quiet', 'print nothing when the configuration is valid'), { json: true }))
    .action(async (opts: { config?: string; quiet?: boolean; json?: boolean; format?: string; column?: string[] }) => {
      try {
        const cfg = await loadConfig({ path: configPathOf(program, opts), env: process.env, checks: CONFIG_CHECKS });
        if (opts.quiet) return;
        const settings = effectiveSettings(cfg);
        const out = outputOptions(opts);
        // json/yaml: { "section": { "key": "value" } }, the shape of the file.
        const full = out.format === 'json' || out.format === 'yaml';
        if (full && out.columns.length === 0) {
          const bySection: Record<string, Record<string, string>> = {};
          for (const s of settings) (bySection[s.section] ??= {})[s.key] = s.value;
          process.stdout.write(out.format === 'json' ? `${JSON.stringify(bySection, null, 2)}\n` : toYaml(bySection));
          return;
        }
        process.stdout.write(renderList(settings, SETTING_COLUMNS, out, { tableText: () => formatSettings(settings) }));
      } catch (err) {
        if (!(err instanceof ConfigError)) {
          process.stderr.write(`cmpha config validate: ${errorMessage(err)}\n`);
          process.exitCode = EXIT_CONFIG;
          return;
        }
        for (const line of err.lines()) process.stderr.write(`${line}\n`);
        process.exitCode = EXIT_CONFIG;
      }
    });
}
