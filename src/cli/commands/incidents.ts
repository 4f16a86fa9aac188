import { userInfo } from 'node:os';
import type { Command } from 'commander';
import type { Redis } from 'ioredis';
import type { Config } from '../../config/types.js';
import { formatIncident, formatIncidentList } from '../../incidents/format.js';
import { IncidentStore } from '../../incidents/incident-store.js';
import { acknowledge } from '../../notifier/ack.js';
import { connectRedisOnce } from '../../shared/redis-connect.js';
import { errorMessage } from '../../shared/errors.js';
import { EXIT_CONFIG, loadCliConfig } from '../context.js';

export interface IncidentCliDeps {
  loadConfig(path?: string): Promise<Pick<Config, 'redis'>>;
  connect(config: Pick<Config, 'redis'>): Promise<Redis>;
  stdout(text: string): void;
  stderr(text: string): void;
  setExitCode(code: number): void;
}

export function connectRedis(config: Pick<Config, 'redis'>): Promise<Redis> {
  return connectRedisOnce(config.redis);
}

const defaultDeps: IncidentCliDeps = {
  loadConfig: loadCliConfig,
  connect: connectRedis,
  stdout: (t) => { process.stdout.write(t); },
  stderr: (t) => { process.stderr.write(t); },
  setExitCode: (c) => { process.exitCode = c; },
};

interface Opts { config?: string; json?: boolean }

/** `cmpha incidents [--json]`, `cmpha incidents show ID`, `cmpha incidents ack ID`. */
export function registerIncidentCommands(program: Command, overrides: Partial<IncidentCliDeps> = {}): void {
  const deps: IncidentCliDeps = { ...defaultDeps, ...overrides };
  const configPath = (opts: Opts) => opts.config ?? program.opts<{ config?: string }>().config;
  const withStore = async (opts: Opts, fn: (store: IncidentStore, redis: Redis, config: Pick<Config, 'redis'>) => Promise<void>) => {
    const config = await deps.loadConfig(configPath(opts));
    let redis: Redis | undefined;
    try {
      redis = await deps.connect(config);
      await fn(new IncidentStore(redis, config.redis.prefix), redis, config);
    } catch (err) {
      deps.stderr(`cmpha incidents: ${errorMessage(err)}\n`);
      deps.setExitCode(1);
    } finally {
      redis?.disconnect();
    }
  };
  const incidents = program.command('incidents').description('recorded host failures: what was fenced, moved and notified');

  incidents
    .command('list', { isDefault: true })
    .description('list incidents, newest first')
    .option('-c, --config <path>', 'config file (default: $CMPHA_CONFIG or /etc/cmpha/cmpha.conf)')
    .option('--json', 'print JSON')
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
        deps.stdout(opts.json ? `${JSON.stringify(list, null, 2)}\n` : formatIncidentList(list));
        deps.setExitCode(0);
      });
    });

  incidents
    .command('show')
    .description('one incident: its timeline, every instance and every notification')
    .argument('<id>', 'incident id (see `cmpha incidents`)')
    .option('-c, --config <path>', 'config file (default: $CMPHA_CONFIG or /etc/cmpha/cmpha.conf)')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: Opts) => {
      await withStore(opts, async (store) => {
        const inc = await store.get(id);
        if (!inc) {
          deps.stderr(`cmpha incidents show: no incident with id ${id}\n`);
          deps.setExitCode(1);
          return;
        }
        deps.stdout(opts.json ? `${JSON.stringify(inc, null, 2)}\n` : formatIncident(inc));
        deps.setExitCode(0);
      });
    });

  incidents
    .command('ack')
    .description('acknowledge an incident: stops repeated pages and records who took it')
    .argument('<id>', 'incident id')
    .option('--by <name>', 'who acknowledges (default: the local user name)')
    .option('-c, --config <path>', 'config file (default: $CMPHA_CONFIG or /etc/cmpha/cmpha.conf)')
    .action(async (id: string, opts: Opts & { by?: string }) => {
      const by = opts.by ?? userInfo().username;
      await withStore(opts, async (store, redis, config) => {
        if (!(await store.getRecord(id))) {
          deps.stderr(`cmpha incidents ack: no incident with id ${id}\n`);
          deps.setExitCode(1);
          return;
        }
        await acknowledge(redis, config.redis.prefix, id, by);
        await store.ack(id, by);
        deps.stdout(`incident ${id} acknowledged by ${by}; repeated notifications stop\n`);
        deps.setExitCode(0);
      });
    });
}
