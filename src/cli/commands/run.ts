import type { Command } from 'commander';
import { startController } from '../../app/controller.js';
import { errorMessage } from '../../shared/errors.js';
import { configPathOf, createCliLogger, loadCliConfig } from '../context.js';

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run the controller: detect dead hosts, fence them, evacuate their instances, notify')
    .option('--config <path>', 'config file (default: $CMPHA_CONFIG or /etc/cmpha/cmpha.conf)')
    .option('--dry-run', 'detect and report, act on nothing (as [detector] dry_run = true)')
    .action(async (opts: { config?: string; dryRun?: boolean }) => {
      let config = await loadCliConfig(configPathOf(program, opts));
      if (opts.dryRun) config = { ...config, detector: { ...config.detector, dryRun: true } };
      const logger = createCliLogger(config, { daemon: true });
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
