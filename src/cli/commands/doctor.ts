import type { Command } from 'commander';
import { formatDoctorReport } from '../../doctor/format.js';
import { runDoctor } from '../../doctor/run-doctor.js';
import type { DoctorHost } from '../../doctor/types.js';
import { errorMessage } from '../../shared/errors.js';
import { configPathOf, createCliCompute, createCliLogger, EXIT_CONFIG, loadCliConfig, withConfigOption } from '../context.js';
import { columnsUsable, outputOptions, renderList, renderOne, withOutputOptions, type Column } from '../output.js';

interface DoctorOptions {
  config?: string;
  json?: boolean;
  format?: string;
  column?: string[];
  smtp?: boolean;
}

const DOCTOR_HOST_COLUMNS: readonly Column<DoctorHost>[] = [
  { header: 'HOST', key: 'host', cell: (h) => h.host },
  { header: 'ROLE', key: 'role', cell: (h) => h.role },
  { header: 'ZONE', key: 'zone', cell: (h) => h.zone },
  { header: 'STATUS', key: 'status', cell: (h) => h.status },
  { header: 'FENCING', key: 'fencing', cell: (h) => h.fencing.driver },
  { header: 'PROBLEM', key: 'problems', cell: (h) => h.problems[0]?.detail },
];

/** `cmpha doctor`: would failover work right now? Exit 0 yes, 1 something would make it fail, 2 bad config. */
export function registerDoctorCommand(program: Command): void {
  withConfigOption(withOutputOptions(program
    .command('doctor')
    .description('check, host by host, that failover would work now: Nova, fencing (power status only), management IPs, spares, storage, Redis, notifiers; changes nothing; exit 1 if anything would fail')
    .addHelpText('after', '\n-f json prints {"ok","checks":[{"name","status","detail"}],"hosts":[{"host","zone","status","problems"}],"summary"}; -c picks host columns.')
    .option('--no-smtp', 'do not connect to email notifiers\' SMTP servers'), { json: true }))
    .action(async (opts: DoctorOptions) => {
      const out = outputOptions(opts);
      if (!columnsUsable('doctor', DOCTOR_HOST_COLUMNS, out.columns)) return;
      const config = await loadCliConfig(configPathOf(program, opts));
      const logger = createCliLogger(config);
      const report = await runDoctor(config, { logger, compute: createCliCompute(config, logger), smtp: opts.smtp !== false });
      try {
        if ((out.format === 'json' || out.format === 'yaml') && out.columns.length === 0) {
          process.stdout.write(renderOne({ ok: report.ok, checks: report.checks, hosts: report.hosts, summary: report.summary, durationMs: report.durationMs }, out));
        } else {
          process.stdout.write(renderList(report.hosts, DOCTOR_HOST_COLUMNS, out, { full: (h) => h, tableText: () => formatDoctorReport(report) }));
        }
      } catch (err) {
        process.stderr.write(`cmpha doctor: ${errorMessage(err)}\n`);
        process.exitCode = EXIT_CONFIG;
        return;
      }
      process.exitCode = report.ok ? 0 : 1;
    });
}
