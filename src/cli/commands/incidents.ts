import { userInfo } from 'node:os';
import type { Command } from 'commander';
import type { Redis } from 'ioredis';
import type { RedisConfig } from '../../config/types.js';
import { formatIncident, formatIncidentList } from '../../incidents/format.js';
import { IncidentStore } from '../../incidents/incident-store.js';
import type { IncidentRecord } from '../../incidents/types.js';
import { acknowledge } from '../../notifier/ack.js';
import { formatDuration } from '../../shared/duration.js';
import { CmphaError, errorMessage } from '../../shared/errors.js';
import { connectRedisOnce } from '../../shared/redis-connect.js';
import { configPathOf, EXIT_CONFIG, EXIT_FAILED, withConfigOption, type ConfigPaths } from '../context.js';
import { loadOpsConfig } from '../ops-config.js';
import { outputOptions, renderList, renderOne, withOutputOptions, type Column } from '../output.js';

export interface IncidentCliDeps {
  /** Only [redis] is read: on-call needs no Keystone or BMC secret (see ops-config.ts). */
  loadConfig(path?: ConfigPaths): Promise<{ redis: RedisConfig }>;
  connect(config: { redis: RedisConfig }): Promise<Redis>;
  stdout(text: string): void;
  stderr(text: string): void;
  setExitCode(code: number): void;
}

export function connectRedis(config: { redis: RedisConfig }): Promise<Redis> {
  return connectRedisOnce(config.redis);
}

const defaultDeps: IncidentCliDeps = {
  loadConfig: async (p) => loadOpsConfig(p),
  connect: connectRedis,
  stdout: (t) => { process.stdout.write(t); },
  stderr: (t) => { process.stderr.write(t); },
  setExitCode: (c) => { process.exitCode = c; },
};

export const INCIDENT_COLUMNS: readonly Column<IncidentRecord>[] = [
  { header: 'ID', key: 'id', cell: (r) => r.id },
  { header: 'HOST', key: 'host', cell: (r) => r.host },
  { header: 'STATUS', key: 'status', cell: (r) => r.status },
  { header: 'OPENED', key: 'openedAt', cell: (r) => new Date(r.openedAt).toISOString() },
  { header: 'FAILOVER', key: 'failoverMs', cell: (r) => (r.failoverMs !== undefined ? formatDuration(r.failoverMs) : undefined) },
  { header: 'ACK', key: 'ack', cell: (r) => r.ack?.by },
];

export type AckResult = { kind: 'incident'; already: boolean } | { kind: 'page' };

/**
 * The one acknowledgement: stops the page's repeats (the key escalation reads) and, when the id is an incident,
 * records who took it in the incident's timeline. An id that is no incident is a page's ack id (a storm-brake
 * page, say): only its repeats stop.
 */
export async function acknowledgeIncident(redis: Redis, prefix: string, id: string, by: string): Promise<AckResult> {
  const store = new IncidentStore(redis, prefix);
  const record = await store.getRecord(id).catch((err: unknown) => {
    throw new CmphaError('incident_unreadable', `cannot read incident ${id}: ${errorMessage(err)}`);
  });
  await acknowledge(redis, prefix, id, by);
  if (!record) return { kind: 'page' };
  if (record.ack) return { kind: 'incident', already: true };
  await store.ack(id, by);
  return { kind: 'incident', already: false };
}

interface Opts { config?: string; json?: boolean; format?: string; column?: string[] }

/** `cmpha incidents [list]`, `incidents show ID`, `incidents ack ID`; they read only [redis]. */
export function registerIncidentCommands(program: Command, overrides: Partial<IncidentCliDeps> = {}): void {
  const deps: IncidentCliDeps = { ...defaultDeps, ...overrides };
  const withStore = async (opts: Opts, fn: (store: IncidentStore, redis: Redis, config: { redis: RedisConfig }) => Promise<void>) => {
    let config: { redis: RedisConfig };
    try {
      config = await deps.loadConfig(configPathOf(program, opts));
    } catch (err) {
      deps.stderr(`${errorMessage(err)}\n`);
      deps.setExitCode(EXIT_CONFIG);
      return;
    }
    let redis: Redis | undefined;
    try {
      redis = await deps.connect(config);
      await fn(new IncidentStore(redis, config.redis.prefix), redis, config);
    } catch (err) {
      deps.stderr(`cmpha incidents: ${errorMessage(err)}\n`);
      deps.setExitCode(err instanceof CmphaError && err.code === 'cli_unknown_column' ? EXIT_CONFIG : EXIT_FAILED);
    } finally {
      redis?.disconnect();
    }
  };
  const incidents = program.command('incidents').description('recorded host failures: what was fenced, moved and notified (needs only [redis])');

  withConfigOption(withOutputOptions(incidents
    .command('list', { isDefault: true })
    .description('list incidents, newest first'), { json: true, columns: INCIDENT_COLUMNS }))
    .option('--limit <n>', 'at most this many', '50')
    .action(async (opts: Opts & { limit: string }) => {
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1) {
        deps.stderr(`cmpha incidents: --limit must be a positive whole number (got "${opts.limit}")\n`);
        deps.setExitCode(EXIT_CONFIG);
        return;
      }
      await withStore(opts, async (store) => {
        const list = await store.list({ limit });
        deps.stdout(renderList(list, INCIDENT_COLUMNS, outputOptions(opts), { full: (r) => r, tableText: () => formatIncidentList(list) }));
        deps.setExitCode(0);
      });
    });

  withConfigOption(withOutputOptions(incidents
    .command('show')
    .description('one incident: its timeline, every instance and every notification')
    .argument('<id>', 'incident id (see `cmpha incidents`)'), { json: true }))
    .action(async (id: string, opts: Opts) => {
      await withStore(opts, async (store) => {
        const inc = await store.get(id);
        if (!inc) {
          deps.stderr(`cmpha incidents show: no incident with id ${id}\n`);
          deps.setExitCode(EXIT_FAILED);
          return;
        }
        deps.stdout(renderOne({ ...inc }, outputOptions(opts), { tableText: () => formatIncident(inc) }));
        deps.setExitCode(0);
      });
    });

  const ack = async (id: string, opts: Opts & { by?: string }) => {
    const by = opts.by ?? userInfo().username;
    await withStore(opts, async (_store, redis, config) => {
      const r = await acknowledgeIncident(redis, config.redis.prefix, id, by);
      if (r.kind === 'page') deps.stdout(`no incident ${id}: acknowledged it as a page id; its repeats stop at the next interval\n`);
      else if (r.already) deps.stdout(`incident ${id} was already acknowledged; repeated notifications are stopped\n`);
      else deps.stdout(`incident ${id} acknowledged by ${by}; repeated notifications stop\n`);
      deps.setExitCode(0);
    });
  };
  withConfigOption(incidents
    .command('ack')
    .description('acknowledge an incident (or the ack id a page showed): stops repeated pages and records who took it')
    .argument('<id>', 'incident id')
    .option('--by <name>', 'who acknowledges (default: the local user name)'))
    .action(ack);

  // `notify ack` came first; it stays as an alias so runbooks and old pages keep working.
  const notify = program.commands.find((c) => c.name() === 'notify') ?? program.command('notify');
  withConfigOption(notify
    .command('ack')
    .argument('<incident-id>', 'the incident id (or the ack id a page showed)')
    .description('deprecated: use `cmpha incidents ack ID` (the same command)')
    .option('--by <name>', 'who acknowledges (default: your user name)'))
    .action(async (id: string, opts: Opts & { by?: string }) => {
      deps.stderr('cmpha notify ack is deprecated: use cmpha incidents ack (the same command)\n');
      await ack(id, opts);
    });
}
