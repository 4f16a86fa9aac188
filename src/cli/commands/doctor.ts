import type { Command } from 'commander';
import { doctorJson, formatDoctorReport } from '../../doctor/format.js';
import { runDoctor } from '../../doctor/run-doctor.js';
import { createCliLogger, loadCliConfig } from '../context.js';

interface DoctorOptions {
  config?: string;
  json?: boolean;
  smtp?: boolean;
}

/** `cmpha doctor`: would failover work right now? Exit 0 yes, 1 something would make it fail, 2 bad config. */
export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('check, host by host, that failover would work now: Nova, fencing (power status only), management IPs, spares, storage, Redis, notifiers; changes nothing')
    .option('-c, --config <path>', 'config file (default: $CMPHA_CONFIG or /etc/cmpha/cmpha.conf)')
    .option('--json', 'print {"ok","checks":[{"name","status","detail"}],"hosts":[{"host","zone","status","problems"}]}')
    .option('--no-smtp', 'do not connect to email notifiers\' SMTP servers')
    .action(async (opts: DoctorOptions) => {
      const config = await loadCliConfig(opts.config ?? program.opts<{ config?: string }>().config);
      const logger = createCliLogger(config);
      const report = await runDoctor(config, { logger, smtp: opts.smtp !== false });
      process.stdout.write(opts.json ? doctorJson(report) : formatDoctorReport(report));
      process.exitCode = report.ok ? 0 : 1;
    });
}
