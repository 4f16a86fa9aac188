import { userInfo } from 'node:os';
import type { Command } from 'commander';
import type { Config } from '../../config/types.js';
import { errorMessage } from '../../shared/errors.js';
import { connectRedisOnce } from '../../shared/redis-connect.js';
import type { Logger } from '../../shared/logger.js';
import { acknowledge } from '../../notifier/ack.js';
import { createNotificationService } from '../../notifier/service.js';
import type { DeliveryRecord } from '../../notifier/types.js';
import { createCliLogger, EXIT_CONFIG, loadCliConfig } from '../context.js';

export const EXIT_FAILED = 1;

interface Out {
  write(s: string): unknown;
}

function describeChannel(name: string, records: readonly DeliveryRecord[]): { line: string; failed: boolean } {
  const skipped = records.filter((r) => r.skipped === 'no-recipient');
  if (records.length > 0 && skipped.length === records.length) {
    return { line: `${name}: skipped: no fixed recipients (an owner channel; set recipients = ... to test it)`, failed: false };
  }
  const failed = records.filter((r) => !r.ok);
  if (failed.length === 0) return { line: `${name}: ok (${records.map((r) => r.recipient).join(', ')})`, failed: false };
  return { line: `${name}: FAILED: ${failed.map((r) => `${r.recipient}: ${r.error ?? 'failed'}`).join('; ')}`, failed: true };
}

/**
 * Sends a test message through every configured channel (or one) and prints one line per channel.
 * Returns the exit code: 0 all delivered, 1 any failed, 2 no such channel.
 */
export async function runNotifyTest(config: Pick<Config, 'notifiers' | 'escalation'>, opts: { channel?: string }, out: Out, err: Out, logger: Logger): Promise<number> {
  const svc = createNotificationService({ notifiers: config.notifiers, escalation: config.escalation, logger });
  try {
    const names = svc.channelNames();
    if (opts.channel !== undefined && !names.includes(opts.channel)) {
      err.write(`cmpha: no notifier named "${opts.channel}" (configured: ${names.join(', ')})\n`);
      return EXIT_CONFIG;
    }
    const records = await svc.sendTest({ channel: opts.channel });
    let failed = false;
    for (const name of names) {
      if (opts.channel !== undefined && name !== opts.channel) continue;
      const d = describeChannel(name, records.filter((r) => r.channel === name));
      out.write(`${d.line}\n`);
      failed ||= d.failed;
    }
    return failed ? EXIT_FAILED : 0;
  } finally {
    await svc.stop();
  }
}

/** Records an acknowledgement in Redis, where the running controller's escalation looks before each repeat. */
export async function runNotifyAck(config: Pick<Config, 'redis'>, incidentId: string, by: string, out: Out): Promise<void> {
  const redis = await connectRedisOnce(config.redis);
  try {
    await acknowledge(redis, config.redis.prefix, incidentId, by);
    out.write(`acknowledged ${incidentId} as ${by}: repeats stop at the next interval\n`);
  } finally {
    redis.disconnect();
  }
}

export function registerNotifyCommands(program: Command): void {
  const notify = program.command('notify').description('notification channels: test them, acknowledge pages');
  const configPath = (opts: { config?: string }) => opts.config ?? program.opts<{ config?: string }>().config;
  notify
    .command('test')
    .description('send a test message through each channel (or --channel NAME) to its configured recipients; exit 1 if any failed')
    .option('--channel <name>', 'only this [notifier:NAME]')
    .option('-c, --config <path>', 'config file (default: $CMPHA_CONFIG or /etc/cmpha/cmpha.conf)')
    .action(async (opts: { channel?: string; config?: string }) => {
      const config = await loadCliConfig(configPath(opts));
      process.exitCode = await runNotifyTest(config, { channel: opts.channel }, process.stdout, process.stderr, createCliLogger(config));
    });
  notify
    .command('ack')
    .argument('<incident-id>', 'the incident id (or the ack id a page showed)')
    .description('acknowledge a page: stops the repeated calls/messages to on-call for this incident')
    .option('--by <name>', 'who acknowledges (default: your user name)')
    .option('-c, --config <path>', 'config file (default: $CMPHA_CONFIG or /etc/cmpha/cmpha.conf)')
    .action(async (incidentId: string, opts: { by?: string; config?: string }) => {
      const config = await loadCliConfig(configPath(opts));
      try {
        await runNotifyAck(config, incidentId, opts.by ?? userInfo().username, process.stdout);
      } catch (err) {
        process.stderr.write(`cmpha: cannot acknowledge ${incidentId}: ${errorMessage(err)}\n`);
        process.exitCode = EXIT_FAILED;
      }
    });
}
