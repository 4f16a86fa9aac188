import type { Command } from 'commander';
import { runDemo } from '../../app/demo.js';

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run a failover on a built-in simulated cloud and print the timeline (needs redis-server)')
    .option('--host <name>', 'the host to power off')
    .action(async (opts: { host?: string }) => {
      process.exitCode = await runDemo({ out: process.stdout, ...(opts.host ? { host: opts.host } : {}) });
    });
}
