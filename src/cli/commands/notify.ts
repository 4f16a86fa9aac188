import type { Command } from 'commander';
import type { Config } from '../../config/types.js';
import type { Logger } from '../../shared/logger.js';
import { createNotificationService } from '../../notifier/service.js';
import type { DeliveryRecord } from '../../notifier/types.js';
import { configPathOf, createCliLogger, EXIT_CONFIG, EXIT_FAILED, loadCliConfig, withConfigOption } from '../context.js';
import { outputOptions, renderList, withOutputOptions, type Column, type OutputOptions } from '../output.js';

export { EXIT_FAILED };

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

export interface ChannelResult {
  readonly channel: string;
  readonly result: 'ok' | 'skipped' | 'failed';
  readonly detail: string;
}

const CHANNEL_COLUMNS: readonly Column<ChannelResult>[] = [
  { header: 'CHANNEL', key: 'channel', cell: (r) => r.channel },
  { header: 'RESULT', key: 'result', cell: (r) => r.result },
  { header: 'DETAIL', key: 'detail', cell: (r) => r.detail },
];

/**
 * Sends a test message through every configured channel (or one) and prints one line per channel.
 * Returns the exit code: 0 all delivered, 1 any failed, 2 no such channel.
 */
export async function runNotifyTest(config: Pick<Config, 'notifiers' | 'escalation'>, opts: { channel?: string; output?: OutputOptions }, out: Out, err: Out, logger: Logger): Promise<number> {
  const svc = createNotificationService({ notifiers: config.notifiers, escalation: config.escalation, logger });
  try {
    const names = svc.channelNames();
    if (opts.channel !== undefined && !names.includes(opts.channel)) {
      err.write(`cmpha: no notifier named "${opts.channel}" (configured: ${names.join(', ')})\n`);
      return EXIT_CONFIG;
    }
    const records = await svc.sendTest({ channel: opts.channel });
    const results: ChannelResult[] = [];
    const lines: string[] = [];
    for (const name of names) {
      if (opts.channel !== undefined && name !== opts.channel) continue;
      const mine = records.filter((r) => r.channel === name);
      const d = describeChannel(name, mine);
      lines.push(`${d.line}\n`);
      results.push({ channel: name, result: d.failed ? 'failed' : mine.length > 0 && mine.every((r) => r.skipped) ? 'skipped' : 'ok', detail: d.line.slice(name.length + 2) });
    }
    out.write(renderList(results, CHANNEL_COLUMNS, opts.output ?? { format: 'table', columns: [] }, { tableText: () => lines.join('') }));
    return results.some((r) => r.result === 'failed') ? EXIT_FAILED : 0;
  } finally {
    await svc.stop();
  }
}

export function registerNotifyCommands(program: Command): void {
  const notify = program.command('notify').description('notification channels: test them (acknowledge pages with `cmpha incidents ack`)');
  withConfigOption(withOutputOptions(notify
    .command('test')
    .description('send a test message through each channel (or --channel NAME) to its configured recipients; exit 1 if any failed')
    .option('--channel <name>', 'only this [notifier:NAME]'), { json: true, columns: CHANNEL_COLUMNS }))
    .action(async (opts: { channel?: string; config?: string; format?: string; column?: string[]; json?: boolean }) => {
      const config = await loadCliConfig(configPathOf(program, opts));
      process.exitCode = await runNotifyTest(config, { channel: opts.channel, output: outputOptions(opts) }, process.stdout, process.stderr, createCliLogger(config));
    });
}
