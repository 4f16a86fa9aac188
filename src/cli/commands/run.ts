import type { Command } from 'commander';
import { startController } from '../../app/controller.js';
import type { ConfigIssue } from '../../config/load.js';
import { configWarnings } from '../../config/warnings.js';
import { errorMessage } from '../../shared/errors.js';
import { configPathOf, createCliLogger, loadCliConfig, withConfigOption, type ConfigPaths } from '../context.js';

/** How long `cmpha run` may take to stop after SIGTERM/SIGINT before it exits regardless. */
export const STOP_DEADLINE_MS = 15_000;
/** The same while Redis is unreachable. */
export const STOP_DEADLINE_REDIS_DOWN_MS = 3_000;

export function registerRunCommand(program: Command): void {
  withConfigOption(program
    .command('run')
    .description('run the controller: detect dead hosts, fence them, evacuate their instances, notify')
    .option('--dry-run', 'detect and report, act on nothing (as [detector] dry_run = true)'))
    .action(async (opts: { config?: ConfigPaths; dryRun?: boolean }) => {
      const deprecations: ConfigIssue[] = [];
      let config = await loadCliConfig(configPathOf(program, opts), { onWarning: (w) => deprecations.push(w) });
      if (opts.dryRun) config = { ...config, detector: { ...config.detector, dryRun: true } };
      const logger = createCliLogger(config, { daemon: true });
      for (const w of [...deprecations, ...configWarnings(config)]) logger.warn({ section: w.section, key: w.key }, `[${w.section}] ${w.key} ${w.message}`);
      let controller: Awaited<ReturnType<typeof startController>>;
      try {
        // The fence settings are read from the same files again before each fence (a fixed BMC password counts).
        controller = await startController(config, { logger, rereadConfig: () => loadCliConfig(configPathOf(program, opts)) });
      } catch (err) {
        // One line, and exit: half-built clients (Redis reconnecting) must not keep a dead daemon alive.
        process.stderr.write(`cmpha: ${errorMessage(err)}\n`);
        process.exit(1);
      }
      await new Promise<void>((resolve) => {
        let stopping = false;
        const stop = (signal: string) => {
          if (stopping) return;
          stopping = true;
          // Whatever Redis or Nova do, the process ends by this deadline (systemd's TimeoutStopSec is longer).
          // With Redis away nothing can be handed over or released, so there is no point waiting long.
          const deadlineMs = controller.redisDown() ? STOP_DEADLINE_REDIS_DOWN_MS : STOP_DEADLINE_MS;
          logger.info({ signal, deadlineSeconds: deadlineMs / 1000 }, 'stopping: finishing the current round and step');
          setTimeout(() => {
            logger.error({ deadlineSeconds: deadlineMs / 1000 }, 'did not stop in time: exiting now; unfinished jobs are resumed by the next leader');
            process.exit(1);
          }, deadlineMs).unref();
          const started = Date.now();
          controller.stop().then(() => {
            logger.info({ signal, seconds: (Date.now() - started) / 1000 }, 'stopped');
            resolve();
          }, (err: unknown) => {
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
