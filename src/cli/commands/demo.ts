import type { Command } from 'commander';
import { runDemo } from '../../app/demo.js';
import { CmphaError } from '../../shared/errors.js';

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run a failover on a built-in simulated cloud and print the timeline (needs redis-server)')
    .option('--host <name>', 'the host to power off')
    .option('--cloud <type>', 'the simulated cloud: openstack or cloudpods', 'openstack')
    .action(async (opts: { host?: string; cloud: string }) => {
      if (opts.cloud !== 'openstack' && opts.cloud !== 'cloudpods') throw new CmphaError('usage', `--cloud must be openstack or cloudpods (got ${opts.cloud})`);
      // Ctrl-C, a kill or a closed pipe (`| head`) ends the demo early, but still stops Redis and the simulator.
      const ac = new AbortController();
      const stop = () => ac.abort(new Error('interrupted'));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      process.stdout.on('error', stop);
      process.exitCode = await runDemo({ out: process.stdout, signal: ac.signal, cloud: opts.cloud, ...(opts.host ? { host: opts.host } : {}) });
    });
}
