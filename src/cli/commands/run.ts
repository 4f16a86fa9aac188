import type { Command } from 'commander';
import { startController } from '../../app/controller.js';
import { configWarnings } from '../../config/warnings.js';
import { errorMessage } from '../../shared/errors.js';
import { collect, createCliLogger, loadCliConfig } from '../context.js';

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run the controller: detect dead hosts, fence them, evacuate their instances, notify')
    .option('-c, --config <path>', 'config file; repeat for several, later ones override earlier ones (default: $CMPHA_CONFIG or /etc/cmpha/cmpha.conf)', collect, [])
    .option('--dry-run', 'detect and report, act on nothing (as [detector] dry_run = true)')
    .action(async (opts: { config: string[]; dryRun?: boolean }) => {
      let config = await loadCliConfig(opts.config);
      if (opts.dryRun) config = { ...config, detector: { ...config.detector, dryRun: true } };
      const logger = createCliLogger(config);
      for (const w of configWarnings(config)) logger.warn({ section: w.section, key: w.key }, `[${w.section}] ${w.key} ${w.message}`);
      const controller = await startController(config, { logger });
      await new Promise<void>((resolve) => {
        let stopping = false;
        const stop = (signal: string) => {
          if (stopping) return;
          stopping = true;
          logger.info({ signal }, 'stopping: finishing the current round and step');
          controller.stop().then(resolve, (err: unknown) => {
            logger.error({ err: errorMessage(err) }, 'error while stopping');
            process.exitCode = 1;
            resolve();
          });
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
    });
}
