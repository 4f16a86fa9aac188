import type { Command } from 'commander';
import { stringify as toYaml } from 'yaml';
import { CONFIG_CHECKS } from '../../app/config-checks.js';
import { ConfigError, formatIssue, loadConfig, type ConfigIssue } from '../../config/load.js';
import { configWarnings } from '../../config/warnings.js';
import { errorMessage } from '../../shared/errors.js';
import { configLocation, configPathOf, EXIT_CONFIG, withConfigOption, type ConfigPaths } from '../context.js';
import { effectiveSettings, formatSettings, type Setting } from '../effective-config.js';
import { outputOptions, renderList, withOutputOptions, type Column } from '../output.js';

const SETTING_COLUMNS: readonly Column<Setting>[] = [
  { header: 'SECTION', key: 'section', cell: (s) => s.section },
  { header: 'KEY', key: 'key', cell: (s) => s.key },
  { header: 'VALUE', key: 'value', cell: (s) => s.value },
  // A host key taken from [host_defaults] or a pattern section: that section.
  { header: 'FROM', key: 'from', cell: (s) => s.from },
];

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('inspect cmpha.conf');
  withConfigOption(withOutputOptions(config
    .command('validate')
    .description('validate the configuration; print the effective settings (INI keys, secrets masked), or every problem found; exit 2 if invalid')
    .option('--quiet', 'print nothing when the configuration is valid'), { json: true, columns: SETTING_COLUMNS }))
    .action(async (opts: { config?: ConfigPaths; quiet?: boolean; json?: boolean; format?: string; column?: string[] }) => {
      const warnings: ConfigIssue[] = [];
      try {
        const cfg = await loadConfig({ ...configLocation(configPathOf(program, opts)), env: process.env, checks: CONFIG_CHECKS, onWarning: (w) => warnings.push(w) });
        warnings.push(...configWarnings(cfg));
        for (const w of warnings) process.stderr.write(`warning: ${formatIssue(w)}\n`);
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
